/**
 * A loopback HTTP server for tests that answers by virtual host and path, the way several
 * real web sites behind one address would. Unknown routes get 404.
 *
 * @example
 *   const web = await startHttpServer({ 'autoconfig.example.org/mail/config-v1.1.xml': { body: xml } });
 *   // ... requests to http://127.0.0.1:${web.port} with Host: autoconfig.example.org
 *   await web.close();
 */
import http from 'node:http';

export interface Route {
  status?: number;
  body?: string;
  headers?: Record<string, string>;
  /** answer only after this many milliseconds (a slow server) */
  delayMs?: number;
}

export interface HttpServer {
  port: number;
  /** every request as `host/path?query` (host without port) */
  requests: string[];
  close(): Promise<void>;
}

/** `routes` keys are `host/path` (no query string); values are fixed answers. */
export async function startHttpServer(routes: Record<string, Route>): Promise<HttpServer> {
  const requests: string[] = [];
  const server = http.createServer((req, res) => {
    const host = (req.headers.host ?? '').replace(/:\d+$/, '').toLowerCase();
    const url = new URL(req.url ?? '/', 'http://placeholder');
    requests.push(`${host}${url.pathname}${url.search}`);
    const route = routes[`${host}${url.pathname}`];
    if (!route) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
      return;
    }
    const answer = () => {
      if (!res.destroyed) res.writeHead(route.status ?? 200, { 'content-type': 'application/xml', ...route.headers }).end(route.body ?? '');
    };
    if (route.delayMs) setTimeout(answer, route.delayMs).unref();
    else answer();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (!address || typeof address === 'string') throw new Error('no port');
  return {
    port: address.port,
    requests,
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}
