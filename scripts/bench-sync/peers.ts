/**
 * The benchmark's mail peers: test/peers/peers.sh under a dedicated PEER_ROOT and ports (or
 * peers already running there, when asked), with Dovecot's limits raised for thousands of idle
 * sessions; the passwd-file users; the big mailbox written straight into its Maildir and indexed
 * once; and a count of the sessions Dovecot sees in IDLE (from its process titles).
 *
 * @example
 *   const bp = await startBenchPeers({ root: '/tmp/mailport-bench-peers', accounts: 2000, reuse: false });
 *   try { ... } finally { await bp.stop(); }
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync, appendFileSync, lstatSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { ImapFlow } from 'imapflow';
import { loadPeers, peerCa, type PeerUser, type Peers } from '../../test/helpers/peers.js';
import { writeMaildir } from './mailbox.js';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const PEERS_SH = join(REPO, 'test/peers/peers.sh');

/** Ports of the benchmark's own peers unless PEER_* says otherwise: clear of the tests' 21xxx defaults. */
const DEFAULT_PORTS: Record<string, string> = {
  PEER_IMAP_PORT: '22143', PEER_IMAPS_PORT: '22993', PEER_IMAP_NOSTARTTLS_PORT: '22144', PEER_POP3_PORT: '22110', PEER_POP3S_PORT: '22995',
  PEER_POPONLY_HOST: '127.0.0.27', PEER_POPONLY_POP3_PORT: '110', PEER_POPONLY_POP3S_PORT: '995',
  PEER_SMTP_PORT: '22587', PEER_SMTPS_PORT: '22465', PEER_SMTP_NOSTARTTLS_PORT: '22588', PEER_SMTP_UNTRUSTED_PORT: '22466',
  PEER_LMTP_PORT: '22024', PEER_OAUTH_PORT: '28190',
};

export interface BenchPeers {
  peers: Peers;
  root: string;
  /** false when the peers were already running and are left running */
  started: boolean;
  /** the limits file was applied (peers started by the benchmark) */
  raisedLimits: boolean;
  stop(): Promise<void>;
}

/** Open files this process may have (soft, hard), from /proc/self/limits. */
export function openFileLimits(): { soft: number; hard: number } {
  const line = readFileSync('/proc/self/limits', 'utf8').split('\n').find((l) => l.startsWith('Max open files')) ?? '';
  const [soft, hard] = line.replace('Max open files', '').trim().split(/\s+/).map((v) => (v === 'unlimited' ? Infinity : Number(v)));
  return { soft, hard };
}

/**
 * Dovecot settings for `accounts` sessions at once (PEER_DOVECOT_EXTRA_CONF): one imap process
 * per connection as in the tests' config, with room for two per account; verbose process titles
 * so the benchmark can see which sessions are in IDLE.
 */
function limitsConf(accounts: number): string {
  return [
    '# written by scripts/bench-sync.ts: room for the benchmark\'s idle sessions',
    'verbose_proctitle = yes',
    `default_client_limit = ${Math.max(5000, accounts * 4 + 1000)}`,
    'service imap {',
    `  process_limit = ${Math.max(2000, accounts * 3 + 200)}`,
    '}',
    '',
  ].join('\n');
}

export function peersEnv(root: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, PEER_ROOT: root };
  for (const [k, v] of Object.entries(DEFAULT_PORTS)) env[k] ??= v;
  return env;
}

function peersSh(command: string, env: NodeJS.ProcessEnv, openFiles?: number): number {
  // Dovecot inherits the open-file limit of the shell that starts it
  const script = openFiles ? `ulimit -n ${openFiles} 2>/dev/null || true; exec bash "$0" ${command}` : `exec bash "$0" ${command}`;
  const r = spawnSync('bash', ['-c', script, PEERS_SH], { env, stdio: command === 'status' ? 'ignore' : 'inherit' });
  return r.status ?? 1;
}

/** Starts the peers under `root` (or reuses running ones when `reuse`), and says where they are. */
export async function startBenchPeers(o: { root: string; accounts: number; reuse: boolean; openFiles: number }): Promise<BenchPeers> {
  const env = peersEnv(o.root);
  const running = peersSh('status', env) === 0;
  const peersJson = join(o.root, 'peers.json');
  process.env.MAILPORT_TEST_PEERS = peersJson;
  if (running && !o.reuse) {
    throw new Error(`peers are already running under ${o.root}: pass --reuse-peers to use them, or stop them (PEER_ROOT=${o.root} bash test/peers/peers.sh stop)`);
  }
  if (running) {
    const extra = join(o.root, 'dovecot/extra.conf');
    const raisedLimits = existsSync(extra) && readFileSync(join(o.root, 'dovecot/dovecot.conf'), 'utf8').includes(extra);
    return { peers: loadPeers(), root: o.root, started: false, raisedLimits, stop: async () => {} };
  }
  const confDir = mkdtempSync(join(tmpdir(), 'mailport-bench-dovecot-'));
  const conf = join(confDir, 'limits.conf');
  writeFileSync(conf, limitsConf(o.accounts));
  peersSh('stop', env); // leftovers of an interrupted run, if any
  const status = peersSh('start', { ...env, PEER_DOVECOT_EXTRA_CONF: conf }, o.openFiles);
  rmSync(confDir, { recursive: true, force: true });
  if (status !== 0) throw new Error(`test/peers/peers.sh start failed (exit ${status})`);
  let stopped = false;
  return {
    peers: loadPeers(),
    root: o.root,
    started: true,
    raisedLimits: true,
    async stop() {
      if (stopped) return;
      stopped = true;
      peersSh('stop', env);
    },
  };
}

/** Adds the users missing from the passwd-file in one append (addMailbox reads the file per user). */
export function ensureUsers(peers: Peers, users: PeerUser[]): number {
  const have = new Set(readFileSync(peers.usersFile, 'utf8').split('\n').map((l) => l.split(':')[0].toLowerCase()));
  const missing = users.filter((u) => !have.has(u.email.toLowerCase()));
  if (missing.length) appendFileSync(peers.usersFile, missing.map((u) => `${u.email}:{PLAIN}${u.password}::::::\n`).join(''));
  return missing.length;
}

/** The idle accounts' mailboxes: idle00001@… with a password derived from the number. */
export function idleUsers(peers: Peers, count: number): PeerUser[] {
  return Array.from({ length: count }, (_, i) => {
    const n = String(i + 1).padStart(5, '0');
    return { email: `idle${n}@${peers.domain}`, password: `idle-pass-${n}` };
  });
}

export const SYNC_USER_LOCAL = 'syncbench';

/** Where Dovecot keeps `email`'s mail (userdb home = mailRoot/<domain>/<local part>). */
function homeOf(peers: Peers, email: string): string {
  const [local, domain] = email.split('@');
  return join(peers.mailRoot, domain, local);
}

function chownToMail(path: string, recursive: boolean): void {
  const r = spawnSync('chown', [...(recursive ? ['-R'] : []), 'mail:mail', path], { stdio: 'inherit' });
  if (r.status !== 0) throw new Error(`chown mail:mail ${path} failed`);
}

/** An earlier run's mailbox of the same size and seed, young enough that its dates are still recent. */
function reusable(marker: string, count: number, seed: number): boolean {
  try {
    const m = JSON.parse(readFileSync(marker, 'utf8')) as { count?: number; seed?: number; writtenAt?: number };
    return m.count === count && m.seed === seed && Date.now() - (m.writtenAt ?? 0) < 7 * 86_400_000;
  } catch {
    return false;
  }
}

export interface SeedResult {
  user: PeerUser;
  messages: number;
  bytes: number;
  /** false when an earlier run's identical mailbox was reused */
  written: boolean;
  writeMs: number;
  /** Dovecot's first look at the mailbox: UIDs, index, cache, modseqs */
  indexMs: number;
}

/**
 * The mailbox all three contenders download: `count` messages written into the Maildir of
 * syncbench@<domain>, then indexed by Dovecot once (SELECT with CONDSTORE/QRESYNC and a FETCH of
 * UID, FLAGS, INTERNALDATE and size for every message), so nobody pays for Dovecot's first look.
 */
export async function seedMailbox(peers: Peers, count: number, seed: number): Promise<SeedResult> {
  const user = { email: `${SYNC_USER_LOCAL}@${peers.domain}`, password: 'syncbench-pass' };
  ensureUsers(peers, [user]);
  const home = homeOf(peers, user.email);
  const marker = join(home, '.mailport-bench.json');
  let written = false;
  let bytes = 0;
  const t0 = performance.now();
  if (!reusable(marker, count, seed)) {
    rmSync(home, { recursive: true, force: true });
    mkdirSync(dirname(home), { recursive: true });
    if (lstatSync(dirname(home)).uid !== 8) chownToMail(dirname(home), false);
    bytes = writeMaildir(join(home, 'Maildir'), user.email, count, seed).bytes;
    writeFileSync(marker, JSON.stringify({ count, seed, writtenAt: Date.now() }));
    chownToMail(home, true);
    written = true;
  } else {
    for (const f of readdirSync(join(home, 'Maildir/cur'))) bytes += Number(/,S=(\d+)/.exec(f)?.[1] ?? 0);
  }
  const writeMs = performance.now() - t0;

  const t1 = performance.now();
  const client = new ImapFlow({
    host: peers.host, port: peers.imap.tls, secure: true, tls: { ca: peerCa(peers), servername: 'localhost' },
    auth: { user: user.email, pass: user.password }, logger: false, qresync: true,
  });
  await client.connect();
  try {
    const box = await client.mailboxOpen('INBOX', { readOnly: true });
    if (box.exists !== count) throw new Error(`Dovecot sees ${box.exists} messages in ${user.email}'s INBOX, expected ${count}`);
    let seen = 0;
    for await (const _ of client.fetch('1:*', { uid: true, flags: true, internalDate: true, size: true })) seen++;
    if (seen !== count) throw new Error(`warm-up FETCH returned ${seen} of ${count} messages`);
  } finally {
    await client.logout().catch(() => client.close());
  }
  return { user, messages: count, bytes, written, writeMs, indexMs: performance.now() - t1 };
}

/**
 * Sessions of the Dovecot instance `masterPid` whose user starts with `prefix`: how many imap
 * processes (one per connection), and which users have one in IDLE (`verbose_proctitle`).
 */
export function dovecotSessions(masterPid: number, prefix: string): { connections: number; idleUsers: Set<string> } {
  let connections = 0;
  const idle = new Set<string>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    let stat: string;
    let cmdline: string;
    try {
      stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      // pid (comm) state ppid ...: comm may hold spaces, so parse after the last ')'
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid !== masterPid) continue;
      cmdline = readFileSync(`/proc/${name}/cmdline`, 'utf8');
    } catch {
      continue; // gone meanwhile
    }
    const m = /\/imap \[(\S+) \S+ ?(.*)\]/.exec(cmdline.replace(/\0/g, ' '));
    if (!m || !m[1].startsWith(prefix)) continue;
    connections++;
    if (/\bIDLE\b/.test(m[2])) idle.add(m[1]);
  }
  return { connections, idleUsers: idle };
}

/** PID of the main Dovecot instance's master (peers.sh keeps it in pids/dovecot.pid). */
export function dovecotMasterPid(root: string): number {
  return Number(readFileSync(join(root, 'pids/dovecot.pid'), 'utf8').trim());
}

/** fs.inotify.max_user_instances: Dovecot's IDLE uses one per imap process; beyond it, a 1 s poll. */
const INOTIFY = '/proc/sys/fs/inotify/max_user_instances';

export function inotifyInstances(): number {
  return Number(readFileSync(INOTIFY, 'utf8').trim());
}

/** Raises the limit to at least `wanted` (root); returns the restore function. */
export function raiseInotifyInstances(wanted: number): () => void {
  const before = inotifyInstances();
  if (before >= wanted) return () => {};
  writeFileSync(INOTIFY, String(wanted));
  return () => {
    if (inotifyInstances() === wanted) writeFileSync(INOTIFY, String(before));
  };
}
