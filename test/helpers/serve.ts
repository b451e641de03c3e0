// `mailport serve` as a child process (the real CLI, through tsx), and a small HTTP client for it.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';

const MAIN = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));

export interface Serve {
  child: ChildProcess;
  base: string;
  exited: Promise<number | null>;
  /** the last 20,000 characters it printed */
  output(): string;
}

/** Starts `mailport serve [args]` with `env` on top of this process's; resolves once it listens (its address is logged). */
export async function serve(env: Record<string, string>, args: string[] = []): Promise<Serve> {
  const child = spawn(process.execPath, ['--import', 'tsx', MAIN, 'serve', ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let found = '';
  let tail = '';
  const exited = once(child, 'exit').then(([code]) => code as number | null);
  const base = await new Promise<string>((done, fail) => {
    const timer = setTimeout(() => fail(new Error(`serve did not start within 30 s:\n${tail}`)), 30_000);
    const onData = (c: Buffer) => {
      tail = (tail + c.toString()).slice(-20_000);
      if (found) return;
      const m = /"address":"(http:\/\/[^"]+)"/.exec(tail);
      if (m) {
        found = m[1]!;
        clearTimeout(timer);
        done(found);
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    void exited.then((code) => {
      clearTimeout(timer);
      fail(new Error(`serve exited with ${code} before listening:\n${tail}`));
    });
  });
  return { child, base, exited, output: () => tail };
}

/** One JSON request to a served Mailport. */
export async function api(base: string, token: string, method: string, path: string, body?: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  let json: any;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  return { status: res.status, body: json, text };
}
