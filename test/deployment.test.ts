// The deployment files cannot be built here (no Docker engine), so this checks what can go stale
// without one: the Dockerfile starts a file the build produces, the compose file is valid YAML
// that sets only variables the config knows, and docs/deployment.md names the metrics that exist.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { VARIABLES } from '../src/config/config.js';
import { Metrics } from '../src/metrics/metrics.js';

const read = (path: string) => readFileSync(new URL(`../${path}`, import.meta.url), 'utf8');
const exists = (path: string) => existsSync(new URL(`../${path}`, import.meta.url));
const KNOWN = new Set(Object.keys(VARIABLES));

/** Dockerfile instructions of the last stage (the image that runs), continuation lines joined. */
function finalStage(dockerfile: string): Array<{ op: string; args: string }> {
  const lines = dockerfile.replace(/\\\n\s*/g, ' ').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
  const all = lines.map((l) => ({ op: l.split(/\s+/)[0]!.toUpperCase(), args: l.slice(l.indexOf(' ') + 1).trim() }));
  const last = all.map((i) => i.op).lastIndexOf('FROM');
  return all.slice(last);
}

test('the Dockerfile runs the built CLI as a non-root user, with a health check on /healthz', () => {
  const dockerfile = read('Dockerfile');
  const froms = [...dockerfile.matchAll(/^FROM\s+(\S+)/gm)].map((m) => m[1]);
  assert.ok(froms.length >= 1 && froms.every((f) => f === 'node:20-bookworm-slim'), `base images: ${froms.join(', ')}`);
  const stage = finalStage(dockerfile);
  const one = (op: string) => stage.filter((i) => i.op === op).at(-1)?.args;

  const entrypoint = JSON.parse(one('ENTRYPOINT')!) as string[];
  const cmd = JSON.parse(one('CMD')!) as string[];
  assert.equal(entrypoint[0], 'node');
  const script = entrypoint[1]!;
  const pkg = JSON.parse(read('package.json')) as { bin: Record<string, string>; scripts: Record<string, string> };
  assert.equal(script, pkg.bin.mailport, 'the image starts the same file as the mailport command');
  // tsconfig.build.json compiles src/ into dist/: the started file is built from a source that exists
  const build = JSON.parse(read('tsconfig.build.json')) as { compilerOptions: { rootDir: string; outDir: string } };
  assert.deepEqual([build.compilerOptions.rootDir, build.compilerOptions.outDir], ['src', 'dist']);
  const source = script.replace(/^dist\//, 'src/').replace(/\.js$/, '.ts');
  assert.ok(exists(source), `${source} (built into ${script}) exists`);
  assert.equal(cmd[0], 'serve');
  assert.match(read(source), /case 'serve':/, 'serve is a command of the CLI');
  assert.match(pkg.scripts.build!, /tsconfig\.build\.json/);
  assert.match(dockerfile, /RUN npm ci/);
  assert.match(dockerfile, /npm run build/);

  const user = one('USER');
  assert.ok(user && !['root', '0'].includes(user), `runs as ${user}`);
  assert.equal(one('EXPOSE'), VARIABLES.MAILPORT_PORT.default);
  assert.match(one('HEALTHCHECK') ?? '', /\/healthz/);
  assert.match(one('VOLUME') ?? '', /\/data/);
  const env = stage.filter((i) => i.op === 'ENV').map((i) => i.args).join(' ');
  assert.match(env, /MAILPORT_DATA_DIR=\/data/);
  for (const name of env.matchAll(/(MAILPORT_[A-Z_]+)=/g)) assert.ok(KNOWN.has(name[1]!), `${name[1]} is a known variable`);

  // what the build stage copies from the checkout exists, and the context leaves local state out
  for (const m of dockerfile.matchAll(/^COPY\s+(?!--from)(.+)\s+\S+$/gm)) {
    for (const src of m[1]!.trim().split(/\s+/)) assert.ok(exists(src), `COPY source ${src} exists`);
  }
  const ignored = read('.dockerignore').split('\n').map((l) => l.trim());
  for (const p of ['node_modules', '.git', 'data', 'dist', '.env']) assert.ok(ignored.includes(p), `.dockerignore leaves out ${p}`);
});

test('compose.yaml parses and sets only variables the config knows: PostgreSQL, one API node, two workers', () => {
  const text = read('compose.yaml');
  const doc = parse(text, { merge: true }) as {
    services: Record<string, { image?: string; build?: string; environment?: Record<string, string>; deploy?: { replicas?: number }; ports?: string[]; healthcheck?: unknown }>;
  };
  const { postgres, api, worker } = doc.services;
  assert.match(postgres!.image!, /^postgres:\d+/);
  assert.ok(postgres!.healthcheck, 'the nodes wait for a healthy database');
  for (const [name, svc, role] of [['api', api, 'api'], ['worker', worker, 'worker']] as const) {
    assert.ok(svc, `${name} service`);
    assert.equal(svc.build, '.', `${name} is built from this repository`);
    const env = svc.environment!;
    assert.equal(env.MAILPORT_ROLE, role);
    assert.match(env.MAILPORT_DATABASE_URL!, /^postgres:\/\/[^@]+@postgres:5432\//);
    for (const key of Object.keys(env)) assert.ok(KNOWN.has(key), `${name}: ${key} is a variable the config knows`);
    assert.ok(env.MAILPORT_SECRET_KEY && env.MAILPORT_ADMIN_TOKEN, `${name} gets the shared secrets`);
  }
  assert.equal(worker!.deploy?.replicas, 2);
  assert.deepEqual(api!.ports, [`3000:${api!.environment!.MAILPORT_PORT}`]);
  assert.equal(worker!.ports, undefined, 'worker nodes are not published');
  for (const m of text.matchAll(/\$\{(MAILPORT_[A-Z_]+)/g)) assert.ok(KNOWN.has(m[1]!), `\${${m[1]}} is a variable the config knows`);
});

test('docs/deployment.md names every metric Mailport exports, and no other', async () => {
  const doc = read('docs/deployment.md');
  const exported = (await new Metrics({ info: { version: 'x', role: 'all' } }).registry.getMetricsAsJSON()).map((m) => m.name);
  for (const name of exported) assert.ok(doc.includes(`\`${name}`), `${name} is documented`);
  const documented = new Set([...doc.matchAll(/`(mailport_[a-z_]+)/g)].map((m) => m[1]!));
  for (const name of documented) assert.ok(exported.includes(name), `${name} (documented) is exported`);
  for (const file of ['compose.yaml', 'Dockerfile']) assert.ok(doc.includes(file));
  for (const name of doc.matchAll(/`(MAILPORT_[A-Z_]+)`/g)) assert.ok(KNOWN.has(name[1]!), `${name[1]} in the docs is a variable the config knows`);
});
