import pino, { type Logger, type DestinationStream } from 'pino';

/**
 * Paths pino removes from every log line. Secrets are never logged: this list is the second
 * line of defence (the first is that code does not pass them to the logger).
 */
export const REDACT_PATHS = [
  'password',
  '*.password',
  '*.*.password',
  'pass',
  '*.pass',
  '*.*.pass',
  'accessToken',
  '*.accessToken',
  '*.*.accessToken',
  'refreshToken',
  '*.refreshToken',
  'clientSecret',
  '*.clientSecret',
  'apiKey',
  '*.apiKey',
  'secret',
  '*.secret',
  'token',
  '*.token',
  'req.headers.authorization',
  'req.headers.cookie',
  'headers.authorization',
];

export type { Logger };

/**
 * The process logger: JSON lines on stdout (or `destination`), secrets redacted.
 *
 * @example
 *   const log = createLogger({ level: 'info' });
 *   log.child({ accountId }).info('verified');
 */
export function createLogger(options: { level?: string; destination?: DestinationStream } = {}): Logger {
  return pino(
    {
      level: options.level ?? 'info',
      base: { service: 'mailport' },
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    options.destination,
  );
}
