import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { EVENT_TYPES } from '../events/event-types.js';

/**
 * JSON Schemas of the webhook routes (API.md "Webhooks"). Response schemas list every field
 * that may leave: the secret appears only in {@link WebhookCreated}, the answer to creation.
 */

const Nullable = <T extends TSchema>(t: T) => Type.Union([t, Type.Null()]);
const Id = Type.String({ minLength: 1, maxLength: 100, pattern: '^[A-Za-z0-9_-]+$' });

export const WebhookCreate = Type.Object(
  {
    url: Type.String({ minLength: 1, maxLength: 2048, pattern: '^[^\\s\\u0000-\\u001f\\u007f]*$', description: 'https:// or http:// URL that receives the POSTs; no user name or password in it' }),
    events: Type.Array(Type.String({ minLength: 1, maxLength: 64, pattern: '^[a-z.*]+$' }), {
      minItems: 1,
      maxItems: EVENT_TYPES.length + 1,
      description: `event types to receive: ${EVENT_TYPES.join(', ')}; or "*" for all`,
    }),
  },
  { additionalProperties: false },
);
export type WebhookCreate = Static<typeof WebhookCreate>;

const webhookFields = {
  id: Type.String(),
  url: Type.String(),
  events: Type.Array(Type.String()),
  createdAt: Type.String(),
  updatedAt: Type.String(),
};
export const Webhook = Type.Object(webhookFields);
export const WebhookCreated = Type.Object({
  ...webhookFields,
  secret: Type.String({ description: 'signs every delivery (Mailport-Signature); shown once, never again' }),
});
export const WebhookList = Type.Object({ items: Type.Array(Webhook) });

const AttemptError = Nullable(Type.Object({ code: Type.String(), message: Type.String() }));
export const Delivery = Type.Object({
  id: Type.String(),
  webhookId: Type.String(),
  eventId: Type.String(),
  eventType: Type.String(),
  status: Type.String({ description: 'pending, delivering, delivered or failed' }),
  attempts: Type.Integer(),
  nextAttemptAt: Nullable(Type.String()),
  lastStatusCode: Nullable(Type.Integer()),
  lastError: AttemptError,
  response: Nullable(Type.String({ description: "the start of the receiver's last answer (at most 500 characters)" })),
  createdAt: Type.String(),
  updatedAt: Type.String(),
  deliveredAt: Nullable(Type.String()),
  history: Type.Array(
    Type.Object({
      attempt: Type.Integer(),
      at: Type.String(),
      durationMs: Type.Integer(),
      statusCode: Nullable(Type.Integer()),
      error: AttemptError,
      response: Nullable(Type.String()),
    }),
    { description: 'every attempt, oldest first' },
  ),
});
export const DeliveryList = Type.Object({ items: Type.Array(Delivery), nextCursor: Nullable(Type.String()) });

export const DeliveryQuery = Type.Object(
  {
    status: Type.Optional(Type.Unsafe<'pending' | 'delivering' | 'delivered' | 'failed'>({ type: 'string', enum: ['pending', 'delivering', 'delivered', 'failed'] })),
    limit: Type.Optional(Type.String({ pattern: '^[0-9]{1,3}$', description: '1 to 100 (default 50)' })),
    cursor: Type.Optional(Id),
  },
  { additionalProperties: false },
);
export type DeliveryQuery = Static<typeof DeliveryQuery>;
