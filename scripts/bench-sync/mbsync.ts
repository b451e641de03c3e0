/**
 * Baseline (a): mbsync (Debian package isync) pulling the same INBOX into a Maildir on disk with
 * its default settings, which include `FSync yes`: it stores durably, as Mailport must. The
 * channel is the smallest that syncs one folder one way.
 *
 * @example
 *   const r = await runMbsync(peers, user, 600_000); // { messages, ms, cpuMs }
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { PeerUser, Peers } from '../../test/helpers/peers.js';

export function mbsyncVersion(): string | null {
  const r = spawnSync('mbsync', ['--version'], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : null;
}

export interface MbsyncResult {
  messages: number;
  ms: number;
  /** user + system CPU of mbsync (bash's `times`) */
  cpuMs: number;
}

const seconds = (t: string) => {
  const m = /^(\d+)m([\d.]+)s$/.exec(t);
  return m ? Number(m[1]) * 60 + Number(m[2]) : NaN;
};

export async function runMbsync(peers: Peers, user: PeerUser, timeoutMs: number): Promise<MbsyncResult> {
  const dir = mkdtempSync(join(tmpdir(), 'mailport-bench-mbsync-'));
  try {
    const store = join(dir, 'store');
    mkdirSync(store); // mbsync wants the Maildir store's path to exist
    const rc = join(dir, 'mbsyncrc');
    // isync 1.4 does not match IP addresses against the certificate: connect by name
    writeFileSync(
      rc,
      [
        'IMAPAccount peer',
        'Host localhost',
        `Port ${peers.imap.tls}`,
        `User ${user.email}`,
        `Pass ${user.password}`,
        'SSLType IMAPS',
        `CertificateFile ${peers.caFile}`,
        'AuthMechs PLAIN',
        '',
        'IMAPStore remote',
        'Account peer',
        '',
        'MaildirStore local',
        `Path ${store}/`,
        `Inbox ${store}/INBOX`,
        '',
        'Channel bench',
        'Far :remote:',
        'Near :local:',
        'Patterns INBOX',
        'Sync Pull',
        'Create Near',
        'Expunge None',
        'SyncState *',
        '',
      ].join('\n'),
      { mode: 0o600 },
    );
    const t0 = performance.now();
    // bash runs it so that `times` can report the CPU it used (its children's user and system time)
    const times = await new Promise<string>((resolve, reject) => {
      const child = spawn('bash', ['-c', 'mbsync -q -c "$0" bench; rc=$?; times >&3; exit $rc', rc], { stdio: ['ignore', 'inherit', 'inherit', 'pipe'] });
      let out = '';
      child.stdio[3]!.on('data', (d: Buffer) => (out += d.toString()));
      const timer = setTimeout(() => child.kill('SIGTERM'), timeoutMs);
      child.on('error', reject);
      child.on('close', (code, signal) => {
        clearTimeout(timer);
        if (code === 0) resolve(out);
        else reject(new Error(`mbsync exited with ${signal ?? code}${signal ? ` (time limit ${timeoutMs / 1000} s)` : ''}`));
      });
    });
    const ms = performance.now() - t0;
    const [userS, systemS] = (times.trim().split('\n')[1] ?? '').split(/\s+/).map(seconds);
    const inbox = join(store, 'INBOX');
    const messages = readdirSync(join(inbox, 'cur')).length + readdirSync(join(inbox, 'new')).length;
    return { messages, ms, cpuMs: (userS + systemS) * 1000 };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
