/**
 * Settings of the sync benchmark: command-line flags first, then BENCH_* variables, then the
 * defaults of issue 4 point 7 (20,000 messages, 2,000 accounts, 200 deliveries).
 *
 * @example
 *   const o = benchOptions(['--quick'], process.env); // 2,000 messages, 200 accounts, 50 deliveries
 */
import { parseArgs } from 'node:util';

export interface BenchOptions {
  /** size of the mailbox of part (a) */
  messages: number;
  /** accounts idling at once in part (b) */
  accounts: number;
  /** new messages delivered over LMTP in part (b), for each contender */
  deliveries: number;
  /** LMTP deliveries per second */
  perSecond: number;
  /** part (a): runs of every contender; the fastest of each counts */
  repeat: number;
  only: 'all' | 'a' | 'b';
  /** use the peers already running under peerRoot instead of starting (and stopping) them */
  reusePeers: boolean;
  peerRoot: string;
  /** raise fs.inotify.max_user_instances for the run (root; restored at the end) */
  raiseInotify: boolean;
  /** part (a) on PostgreSQL too */
  pg: boolean;
  /** seed of the big mailbox: the same seed gives the same messages */
  seed: number;
  /** internal: run one measurement in this process (the orchestrator starts one process per measurement) */
  phase?: string;
}

export const USAGE = `usage: npm run bench:sync -- [--quick] [--messages N] [--accounts N] [--deliveries N] [--rate N]
                          [--repeat N] [--only a|b] [--reuse-peers] [--raise-inotify] [--pg]
  env: BENCH_MESSAGES BENCH_ACCOUNTS BENCH_DELIVERIES BENCH_DELIVERY_RATE BENCH_REPEAT BENCH_ONLY BENCH_REUSE_PEERS=1
       BENCH_RAISE_INOTIFY=1 MAILPORT_BENCH_PG=1 (MAILPORT_TEST_PG_URL) PEER_ROOT PEER_*_PORT
       BENCH_SYNC_OPTIONS (JSON for AppOptions.sync) BENCH_DISPATCHER_POLL_MS BENCH_LOG_LEVEL
       BENCH_NODE_ARGS (node flags for the measuring processes, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof")`;

function count(name: string, value: string | undefined, fallback: number, min = 1): number {
  if (value === undefined || value === '') return fallback;
  if (!/^\d+$/.test(value) || Number(value) < min) throw new Error(`${name} must be a whole number ≥ ${min}, got "${value}"\n${USAGE}`);
  return Number(value);
}

const truthy = (v: string | undefined) => v !== undefined && v !== '' && v !== '0' && v !== 'false';

export function benchOptions(argv: string[], env: NodeJS.ProcessEnv): BenchOptions {
  const { values } = parseArgs({
    args: argv,
    options: {
      quick: { type: 'boolean' },
      messages: { type: 'string' },
      accounts: { type: 'string' },
      deliveries: { type: 'string' },
      rate: { type: 'string' },
      repeat: { type: 'string' },
      only: { type: 'string' },
      'reuse-peers': { type: 'boolean' },
      'raise-inotify': { type: 'boolean' },
      pg: { type: 'boolean' },
      seed: { type: 'string' },
      phase: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const quick = values.quick === true;
  const only = values.only ?? env.BENCH_ONLY ?? 'all';
  if (only !== 'all' && only !== 'a' && only !== 'b') throw new Error(`--only must be a or b\n${USAGE}`);
  return {
    messages: count('--messages', values.messages ?? env.BENCH_MESSAGES, quick ? 2000 : 20_000),
    accounts: count('--accounts', values.accounts ?? env.BENCH_ACCOUNTS, quick ? 200 : 2000, 2),
    deliveries: count('--deliveries', values.deliveries ?? env.BENCH_DELIVERIES, quick ? 50 : 200),
    perSecond: count('--rate', values.rate ?? env.BENCH_DELIVERY_RATE, 20),
    repeat: count('--repeat', values.repeat ?? env.BENCH_REPEAT, 1),
    only,
    reusePeers: values['reuse-peers'] === true || truthy(env.BENCH_REUSE_PEERS),
    peerRoot: env.PEER_ROOT || '/tmp/mailport-bench-peers',
    raiseInotify: values['raise-inotify'] === true || truthy(env.BENCH_RAISE_INOTIFY),
    pg: values.pg === true || truthy(env.MAILPORT_BENCH_PG),
    seed: count('--seed', values.seed ?? env.BENCH_SEED, 42, 0),
    phase: values.phase,
  };
}
