import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { MailportError, isMailportError } from '../core/errors.js';

interface AjvError {
  instancePath?: string;
  keyword?: string;
  message?: string;
  params?: { missingProperty?: string; additionalProperty?: string; allowedValues?: unknown[] };
}

/** `/smtp/port` → `smtp.port`; a missing or unknown property names itself. */
function fieldOf(e: AjvError): string {
  const base = (e.instancePath ?? '').split('/').filter(Boolean).join('.');
  const extra = e.params?.missingProperty ?? e.params?.additionalProperty;
  return [base, extra].filter(Boolean).join('.') || 'body';
}

function describe(e: AjvError, field: string): string {
  switch (e.keyword) {
    case 'required':
      return `${field} is required`;
    case 'additionalProperties':
      return `${field} is not a known field`;
    case 'type':
      if (/port$/.test(field)) return `${field} must be a number (digits only)`;
      return `${field} ${e.message ?? 'has the wrong type'}`;
    case 'pattern':
      return `${field} contains characters that are not allowed`;
    case 'minimum':
    case 'maximum':
      if (/port$/.test(field)) return `${field} must be a whole number from 1 to 65535`;
      return `${field} ${e.message}`;
    default:
      return `${field} ${e.message ?? 'is not valid'}`;
  }
}

/**
 * The one HTTP mapper: every error leaves as API.md's body `{error: {code, message, hint?, field?, protocol?}}`.
 * Bad input is always a 4xx; only a fault of Mailport itself is a 500 (and is logged with the request id).
 */
export function toHttpError(err: unknown): MailportError {
  if (isMailportError(err)) return err;
  const fe = err as FastifyError & { validation?: AjvError[]; validationContext?: string };
  if (fe.validation && fe.validation.length > 0) {
    // union types report one error per branch; the most specific (deepest path) says the most
    const first = [...fe.validation].sort((a, b) => (b.instancePath ?? '').length - (a.instancePath ?? '').length)[0]!;
    const field = fieldOf(first);
    const where = fe.validationContext && fe.validationContext !== 'body' ? `${fe.validationContext}.` : '';
    return new MailportError('INVALID_INPUT', { field: `${where}${field}`, message: describe(first, `${where}${field}`) });
  }
  switch (fe.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new MailportError('PAYLOAD_TOO_LARGE', { field: 'body' });
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return new MailportError('INVALID_INPUT', { field: 'body', message: 'Send the body as JSON with Content-Type: application/json.' });
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return new MailportError('INVALID_INPUT', { field: 'body', message: 'The JSON body is empty.' });
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      if (/prototype/i.test(fe.message)) return new MailportError('INVALID_INPUT', { field: 'body', message: 'The body contains a forbidden key (__proto__ or constructor.prototype).' });
      return new MailportError('INVALID_INPUT', { field: 'body', message: 'The body is not valid JSON.' });
    default:
      break;
  }
  if (err instanceof SyntaxError || (typeof fe.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 500)) {
    // the JSON parser's errors (bad JSON, __proto__ keys) and any other client error Fastify raised
    if (fe.statusCode === 413) return new MailportError('PAYLOAD_TOO_LARGE', { field: 'body' });
    return new MailportError('INVALID_INPUT', { field: 'body', message: `The request is not valid: ${fe.message}` });
  }
  return new MailportError('INTERNAL', { cause: err });
}

export function errorHandler(err: unknown, req: FastifyRequest, reply: FastifyReply): FastifyReply {
  const mapped = toHttpError(err);
  if (mapped.status >= 500) {
    req.log.error({ err }, 'request failed');
  } else {
    req.log.info({ code: mapped.code, field: mapped.field }, 'request refused');
  }
  const body: Record<string, unknown> = mapped.toBody();
  if ('checks' in mapped && Array.isArray((mapped as { checks?: unknown }).checks)) body.checks = (mapped as { checks: unknown[] }).checks;
  return reply.status(mapped.status).send(body);
}
