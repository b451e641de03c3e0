import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyInstance, FastifyReply } from 'fastify';
import fastifyStatic from '@fastify/static';

export interface WebOptions {
  /** the built settings page (dist/web: index.html and assets/) */
  root: string;
  /** CSP frame-ancestors sources (MAILPORT_FRAME_ANCESTORS); ["'none'"] forbids framing */
  frameAncestors: string[];
}

/** The page's security headers: only its own scripts, styles and API; framing only by the allowed origins. */
export function contentSecurityPolicy(frameAncestors: string[]): string {
  return [
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "font-src 'self'",
    "connect-src 'self'",
    "base-uri 'none'",
    "form-action 'none'",
    `frame-ancestors ${frameAncestors.join(' ')}`,
  ].join('; ');
}

function securityHeaders(reply: FastifyReply, options: WebOptions): void {
  reply.header('content-security-policy', contentSecurityPolicy(options.frameAncestors));
  // for browsers without CSP frame-ancestors; when origins are allowed, CSP alone decides
  if (options.frameAncestors.includes("'none'")) reply.header('x-frame-options', 'DENY');
  reply.header('referrer-policy', 'no-referrer');
  reply.header('x-content-type-options', 'nosniff');
}

/**
 * The hosted settings page (DESIGN.md `web`): the files Vite built into dist/web, served from
 * /connect with no CDN at run time. The connect-session token is in the URL fragment, which
 * the browser keeps to itself, so these routes need no token.
 *
 * @example
 *   await app.register(webRoutes, { root: '/srv/mailport/dist/web', frameAncestors: ["'none'"] });
 */
export async function webRoutes(app: FastifyInstance, options: WebOptions): Promise<void> {
  const config = { access: 'public' as const };
  const built = existsSync(join(options.root, 'index.html'));
  if (built) await app.register(fastifyStatic, { root: options.root, serve: false, decorateReply: true, cacheControl: false });

  app.get('/', { config, schema: { hide: true } }, async (_req, reply) => reply.redirect('/connect'));

  app.get('/connect', { config, schema: { hide: true } }, async (_req, reply) => {
    securityHeaders(reply, options);
    if (!built) {
      return reply.status(503).type('text/plain; charset=utf-8').send('The settings page has not been built. Run "npm run build" and start Mailport again.\n');
    }
    // the page itself is small and must follow upgrades at once; its assets are content-hashed
    return reply.header('cache-control', 'no-store').sendFile('index.html');
  });

  app.get<{ Params: { file: string } }>('/connect/assets/:file', { config, schema: { hide: true } }, async (req, reply) => {
    securityHeaders(reply, options);
    if (!built || !/^[\w.-]{1,200}$/.test(req.params.file) || req.params.file.startsWith('.')) return reply.callNotFound();
    return reply.header('cache-control', 'public, max-age=31536000, immutable').sendFile(join('assets', req.params.file));
  });
}
