// A TCP forwarder between Mailport and a real server, for faults a real server does not make on
// demand: every connection cut at once (a server restart), refused for a while, or frozen
// (sockets open, nothing forwarded: a server that stopped answering).
import net from 'node:net';

export interface TcpProxy {
  port: number;
  /** connections accepted so far */
  connections(): number;
  /** connections open now */
  open(): number;
  /** destroys every open connection (both sides), as a server restart would */
  cutAll(): void;
  /** new connections are refused (closed at once) while true */
  refuse(on: boolean): void;
  /** stops forwarding on the connections open now (they stay open); new ones work */
  freezeOpen(): void;
  close(): Promise<void>;
}

export async function startTcpProxy(target: { host: string; port: number }): Promise<TcpProxy> {
  const pairs = new Set<{ a: net.Socket; b: net.Socket; frozen: boolean }>();
  let accepted = 0;
  let refusing = false;
  const server = net.createServer((a) => {
    accepted++;
    if (refusing) return void a.destroy();
    const b = net.connect(target.port, target.host);
    const pair = { a, b, frozen: false };
    pairs.add(pair);
    const end = () => {
      pairs.delete(pair);
      a.destroy();
      b.destroy();
    };
    a.on('error', end).on('close', end);
    b.on('error', end).on('close', end);
    a.on('data', (d) => {
      if (!pair.frozen) b.write(d);
    });
    b.on('data', (d) => {
      if (!pair.frozen) a.write(d);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  const proxy: TcpProxy = {
    port,
    connections: () => accepted,
    open: () => pairs.size,
    cutAll() {
      for (const p of [...pairs]) {
        p.a.destroy();
        p.b.destroy();
      }
      pairs.clear();
    },
    refuse(on) {
      refusing = on;
    },
    freezeOpen() {
      for (const p of pairs) p.frozen = true;
    },
    async close() {
      proxy.cutAll();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  return proxy;
}
