import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import type { TLSSocket } from 'node:tls';
import type { AddressInfo } from 'node:net';

export interface Received {
  headers: IncomingHttpHeaders;
  /** the raw body as it arrived (what a signature is checked against) */
  body: string;
  path: string;
  /** the TLS server name (SNI) the client asked for; undefined over plain HTTP */
  servername?: string;
}

/** What the receiver does with request n (0-based): answer with a status, or never answer. */
export type Script = (n: number) => { status: number; body?: string; delayMs?: number } | 'hang';

export interface Receiver {
  url: string;
  port: number;
  received: Received[];
  close(): Promise<void>;
}

export interface ReceiverOptions {
  /** serve HTTPS with this key and certificate (PEM) */
  tls?: { key: string; cert: string };
  /** the host name put in `url` (default 127.0.0.1); the server always listens on 127.0.0.1 */
  hostname?: string;
}

/**
 * A real HTTP(S) server on 127.0.0.1, port 0, that records every request and answers as
 * scripted: the far end of webhook tests.
 *
 * @example
 *   const rx = await startReceiver((n) => (n < 2 ? { status: 500 } : { status: 200 }));
 */
export async function startReceiver(script: Script = () => ({ status: 200, body: 'ok' }), options: ReceiverOptions = {}): Promise<Receiver> {
  const received: Received[] = [];
  const hanging = new Set<ServerResponse>();
  const handler = (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const n = received.length;
      const servername = (req.socket as Partial<TLSSocket>).servername || undefined;
      received.push({ headers: req.headers, body: Buffer.concat(chunks).toString('utf8'), path: req.url ?? '', servername });
      const answer = script(n);
      if (answer === 'hang') {
        hanging.add(res);
        return;
      }
      const send = () => res.writeHead(answer.status, { 'content-type': 'text/plain' }).end(answer.body ?? '');
      if (answer.delayMs) setTimeout(send, answer.delayMs);
      else send();
    });
  };
  const server = options.tls ? createTlsServer({ key: options.tls.key, cert: options.tls.cert }, handler) : createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `${options.tls ? 'https' : 'http'}://${options.hostname ?? '127.0.0.1'}:${port}/hooks/mailport`,
    port,
    received,
    async close() {
      for (const res of hanging) res.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
