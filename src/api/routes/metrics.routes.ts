import type { FastifyInstance } from 'fastify';
import { MailportError } from '../../core/errors.js';
import { hashToken, sameHash } from '../../secrets/secret-box.js';
import type { Metrics } from '../../metrics/metrics.js';

export interface MetricsRouteOptions {
  metrics: Metrics;
  /** MAILPORT_METRICS_TOKEN: when set, a scrape must bring it as a bearer token */
  token: string | null;
}

/**
 * `GET /metrics` (Prometheus text) and the hook that counts every answered request by method,
 * route template and status. Open like /healthz unless the operator set a metrics token: labels
 * never carry addresses, secrets or tenant ids, and a scraper usually has no tenant token.
 * Registered on the root instance, so the hook sees every route.
 *
 * @example
 *   metricsRoutes(app, { metrics, token: config.metricsToken });
 */
export function metricsRoutes(app: FastifyInstance, options: MetricsRouteOptions): void {
  const { metrics } = options;
  const tokenHash = options.token ? hashToken(options.token) : null;

  app.addHook('onResponse', async (req, reply) => {
    metrics.httpRequest(req.method, req.routeOptions.url, reply.statusCode, reply.elapsedTime / 1000);
  });

  app.get('/metrics', {
    config: { access: 'public' },
    schema: { tags: ['operations'], summary: 'Prometheus metrics (a bearer token only when MAILPORT_METRICS_TOKEN is set)', produces: ['text/plain'] },
  }, async (req, reply) => {
    if (tokenHash) {
      const m = /^Bearer\s+(\S{1,512})$/i.exec(req.headers.authorization?.trim() ?? '');
      if (!m || !sameHash(hashToken(m[1]!), tokenHash)) {
        throw new MailportError('UNAUTHORIZED', { message: 'GET /metrics needs the metrics token.', hint: 'Send "Authorization: Bearer <MAILPORT_METRICS_TOKEN>" (in Prometheus: authorization.credentials of the scrape job).' });
      }
    }
    const text = await metrics.render();
    return reply.type(metrics.contentType).send(text);
  });
}
