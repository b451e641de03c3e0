#!/usr/bin/env node
import { parseArgs } from 'node:util';
import { createInterface } from 'node:readline';
import { ConfigError, loadConfig } from '../config/config.js';
import { createApp, VERSION } from '../app.js';
import { migrateToLatest, openStore } from '../store/index.js';
import { isMailportError } from '../core/errors.js';
import { runDoctor, UsageError } from './doctor.js';
import { mkdirSync } from 'node:fs';

const USAGE = `Mailport ${VERSION}: a self-hosted email integration gateway

Usage:
  mailport serve [--role all|api|worker]     start the API, settings page and workers (all, the default),
                                             or only the API, or only the workers (MAILPORT_ROLE;
                                             api and worker need PostgreSQL)
  mailport migrate                           apply database migrations
  mailport tenant create --name N --company-email E [--from-name F]
                                             create a tenant and print its API key (shown once)
  mailport doctor EMAIL [--smtp HOST:PORT:SECURITY] [--imap HOST:PORT:SECURITY] [--pop HOST:PORT:SECURITY] [--username U]
                                             discover and check settings for an address; the password
                                             comes from MAILPORT_PASSWORD or a prompt

Configuration comes from MAILPORT_* environment variables (see README.md).`;

async function readPassword(prompt: string): Promise<string> {
  if (!process.stdin.isTTY) {
    // piped input: the first line is the password
    const rl = createInterface({ input: process.stdin });
    for await (const line of rl) return line;
    return '';
  }
  return new Promise((resolve) => {
    const rl = createInterface({ input: process.stdin, output: process.stdout, terminal: true });
    const mute = rl as unknown as { _writeToOutput: (s: string) => void };
    process.stdout.write(prompt);
    mute._writeToOutput = () => {}; // do not echo the password
    rl.question('', (answer) => {
      rl.close();
      process.stdout.write('\n');
      resolve(answer);
    });
  });
}

async function serve(args: string[]): Promise<void> {
  const { values } = parseArgs({ args, options: { role: { type: 'string' } }, allowPositionals: false });
  if (values.role !== undefined && !['all', 'api', 'worker'].includes(values.role)) throw new UsageError('--role must be all, api or worker');
  // the flag wins over MAILPORT_ROLE; both are checked in one place (roles other than all need PostgreSQL)
  const app = await createApp(loadConfig(values.role === undefined ? process.env : { ...process.env, MAILPORT_ROLE: values.role }));
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    app.logger.info({ signal }, 'shutting down');
    const force = setTimeout(() => {
      app.logger.error('shutdown took too long; exiting');
      process.exit(1);
    }, 20_000);
    force.unref();
    try {
      await app.close();
    } catch (err) {
      app.logger.error({ err }, 'shutdown failed');
      process.exit(1);
    }
    app.logger.info('stopped');
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
  await app.listen();
  app.logger.info({ role: app.config.role, version: VERSION }, 'mailport started');
}

async function migrate(): Promise<void> {
  const config = loadConfig();
  if (config.databaseUrl.startsWith('sqlite:')) mkdirSync(config.dataDir, { recursive: true });
  const store = openStore(config.databaseUrl);
  try {
    const applied = await migrateToLatest(store.db);
    console.log(applied.length ? `applied: ${applied.join(', ')}` : 'the database is up to date');
  } finally {
    await store.close();
  }
}

async function tenant(args: string[]): Promise<void> {
  const [sub, ...rest] = args;
  if (sub !== 'create') throw new UsageError('usage: mailport tenant create --name N --company-email E [--from-name F]');
  const { values } = parseArgs({ args: rest, options: { name: { type: 'string' }, 'company-email': { type: 'string' }, 'from-name': { type: 'string' } } });
  if (!values.name || !values['company-email']) throw new UsageError('--name and --company-email are required');
  const app = await createApp(loadConfig(), { announce: (t) => process.stderr.write(t) });
  try {
    const { tenant: t, apiKey } = await app.tenants.create({ name: values.name, companyEmail: values['company-email'], fromName: values['from-name'] ?? null });
    console.log(`tenant ${t.id} created for ${t.name} <${t.companyEmail}>`);
    console.log(`API key (shown once): ${apiKey}`);
  } finally {
    await app.close();
  }
}

async function doctor(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { smtp: { type: 'string' }, imap: { type: 'string' }, pop: { type: 'string' }, username: { type: 'string' } },
  });
  const email = positionals[0];
  if (!email) throw new UsageError('usage: mailport doctor EMAIL [--smtp HOST:PORT:SECURITY] [--imap HOST:PORT:SECURITY]');
  const config = loadConfig();
  const password = process.env.MAILPORT_PASSWORD ?? (await readPassword(`Password for ${email}: `));
  return runDoctor({ email, password, ...values, allowPrivateHosts: config.allowPrivateHosts, timeoutMs: config.verifyTimeoutMs, out: (l) => console.log(l) });
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'serve':
      await serve(rest);
      return -1; // keeps running
    case 'migrate':
      await migrate();
      return 0;
    case 'tenant':
      await tenant(rest);
      return 0;
    case 'doctor':
      return doctor(rest);
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      console.log(USAGE);
      return command === undefined ? 2 : 0;
    case '--version':
      console.log(VERSION);
      return 0;
    default:
      throw new UsageError(`unknown command "${command}"\n\n${USAGE}`);
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code >= 0) process.exit(code);
  },
  (err) => {
    if (err instanceof UsageError || err instanceof ConfigError || String((err as { code?: string }).code).startsWith('ERR_PARSE_ARGS')) {
      console.error(`mailport: ${err.message}`);
      process.exit(2);
    }
    if (isMailportError(err)) {
      console.error(`mailport: ${err.message}${err.field ? ` (${err.field})` : ''}`);
      process.exit(1);
    }
    console.error('mailport: unexpected error', err);
    process.exit(1);
  },
);
