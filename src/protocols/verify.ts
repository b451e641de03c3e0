/**
 * The protocols module's public entry: one check per protocol and {@link verifyEndpoints}, which
 * runs the checks of an account in parallel, each bounded by `ctx.timeoutMs`.
 *
 * @example
 *   const checks = await verifyEndpoints(
 *     { smtp: { host: 'smtp.example.com', port: 465, security: 'tls' }, imap: { host: 'imap.example.com', port: 993, security: 'tls' } },
 *     { user: 'me@example.com', password },
 *     { guard: new AddressGuard(), provider: { id: 'yahoo', appPassword: 'required' } },
 *   );
 *   const failed = checks.find((c) => !c.ok); // { protocol, ok, code, message, hint, response, ms }
 */
import type { CheckResult, Credentials, Endpoint } from '../core/types.js';
import { runCheck, type CheckContext, type CheckRun } from './context.js';
import { NOT_TLS_CODES, codesOf, diagnoseNonTlsPort, diagnoseSilentPort, watchForImplicitTls } from './diagnose.js';
import { checkImap } from './imap.js';
import { Pop3Client } from './pop3.js';
import { checkSmtp } from './smtp.js';

export type { CheckContext, CheckLogger } from './context.js';
export { DEFAULT_TIMEOUT_MS } from './context.js';
export { classify, type ClassifyInfo, type ProviderFacts } from './classify.js';
import type { ProviderFacts } from './classify.js';
import type { Preset } from '../catalog/catalog.js';
export { checkSmtp, sendTestMessage, type TestMessage, type SentInfo } from './smtp.js';
export { checkImap, DEFAULT_POP_PROBE_PORTS } from './imap.js';
export { Pop3Client, Pop3Error, type Pop3ClientOptions } from './pop3.js';

/** POP3 check: connect, greeting, STLS (when chosen), USER/PASS (or AUTH XOAUTH2), STAT, QUIT. */
export function checkPop3(ep: Endpoint, cred: Credentials, ctx: CheckContext): Promise<CheckResult> {
  return runCheck('pop3', ep, cred, ctx, async (run) => {
    const { resolved, deadline } = run;
    // library timeouts end a little before the budget, so their (more specific) error wins
    const remaining = Math.max(1, Math.floor(deadline.remaining()) - 100);
    let greeted = false;
    const client = new Pop3Client({
      host: resolved.address,
      hostName: resolved.host,
      port: ep.port,
      security: ep.security,
      connectTimeoutMs: remaining,
      greetingTimeoutMs: deadline.greetingMs(),
      timeoutMs: remaining,
      logger: {
        debug: (entry: { src?: string }) => {
          if (entry.src === 's') greeted = true;
        },
      },
    });
    run.onAbort(() => client.close());
    const watchdog = watchForImplicitTls(run, ep, 'pop3', () => greeted);
    try {
      const greeting = await Promise.race([client.connect(), watchdog.promise]);
      await client.login(cred.user, cred.accessToken ? { accessToken: cred.accessToken } : { password: cred.password ?? '' });
      await client.stat();
      await client.quit();
      return { response: greeting };
    } catch (err) {
      throw await diagnosePop3(run, ep, err);
    } finally {
      watchdog.stop();
      client.close();
    }
  });
}

async function diagnosePop3(run: CheckRun, ep: Endpoint, err: unknown): Promise<unknown> {
  const codes = codesOf(err);
  if (ep.security !== 'tls' && codes.includes('GREETING_TIMEOUT')) return diagnoseSilentPort(run, ep, err);
  if (ep.security === 'tls' && codes.some((c) => NOT_TLS_CODES.has(c))) return diagnoseNonTlsPort(run, ep, 'pop3', err);
  return err;
}

/**
 * Runs the given checks in parallel, each bounded by `ctx.timeoutMs`; results come in the order
 * smtp, imap, pop3 (only those given). Never rejects for a mail-server problem.
 */
export async function verifyEndpoints(
  target: { smtp?: Endpoint | null; imap?: Endpoint | null; pop?: Endpoint | null },
  cred: Credentials,
  ctx: CheckContext,
): Promise<CheckResult[]> {
  const checks: Array<Promise<CheckResult>> = [];
  if (target.smtp) checks.push(checkSmtp(target.smtp, cred, ctx));
  if (target.imap) checks.push(checkImap(target.imap, cred, ctx));
  if (target.pop) checks.push(checkPop3(target.pop, cred, ctx));
  return Promise.all(checks);
}

/** The catalog facts that refine classification (app passwords, OAuth-only, password protocols). */
export function providerFacts(preset: Preset | undefined): ProviderFacts | undefined {
  if (!preset) return undefined;
  return {
    id: preset.id,
    name: preset.name,
    appPassword: preset.auth.appPassword,
    oauthOnly: preset.auth.oauthOnly ?? false,
    oauth: preset.auth.oauth,
    appPasswordUrl: preset.appPasswordUrl,
    passwordProtocols: preset.auth.passwordProtocols,
  };
}
