import { Type, type TSchema } from '@sinclair/typebox';

/**
 * JSON Schemas of the sending routes (API.md "Sending"). The schema checks shapes and sizes;
 * the rules about header safety (no CR or LF in any value that becomes a header, `X-` names
 * only) are in outbound/message.ts so every caller gets the same messages naming the field.
 */

const Nullable = <T extends TSchema>(t: T) => Type.Union([t, Type.Null()]);
const Id = Type.String({ minLength: 1, maxLength: 100, pattern: '^[A-Za-z0-9_-]+$' });

const AddressObject = Type.Object({ name: Type.Optional(Nullable(Type.String({ maxLength: 200 }))), address: Type.String({ minLength: 3, maxLength: 254 }) }, { additionalProperties: false });
const Address = Type.Union([Type.String({ minLength: 3, maxLength: 254 }), AddressObject], { description: 'an address, or {name, address}' });
const Addresses = Type.Union([Address, Type.Array(Address, { maxItems: 1000 })]);

export const MessageCreate = Type.Object(
  {
    accountId: Type.Optional(Id),
    to: Type.Optional(Addresses),
    cc: Type.Optional(Addresses),
    bcc: Type.Optional(Addresses),
    replyTo: Type.Optional(Address),
    subject: Type.String({ maxLength: 998 }),
    text: Type.Optional(Type.String()),
    html: Type.Optional(Type.String()),
    attachments: Type.Optional(
      Type.Array(
        Type.Object({ filename: Type.String({ minLength: 1, maxLength: 255 }), contentType: Type.Optional(Type.String({ minLength: 3, maxLength: 255, pattern: '^[\\w.+-]+/[\\w.+-]+$' })), content: Type.String({ description: 'base64' }) }, { additionalProperties: false }),
        { maxItems: 100 },
      ),
    ),
    inReplyTo: Type.Optional(Type.String({ maxLength: 998 })),
    references: Type.Optional(Type.Union([Type.String({ maxLength: 998 }), Type.Array(Type.String({ maxLength: 998 }), { maxItems: 100 })])),
    headers: Type.Optional(Type.Record(Type.String(), Type.String({ maxLength: 998 }), { description: 'custom headers; names must start with X-' })),
    sendAt: Type.Optional(Type.String({ maxLength: 40, description: 'ISO 8601; now or in the future' })),
  },
  { additionalProperties: false },
);

export const MessageAccepted = Type.Object({ id: Type.String(), status: Type.Literal('queued') });

const JobError = Nullable(Type.Object({ code: Type.String(), message: Type.String(), hint: Nullable(Type.String()), response: Nullable(Type.String()), at: Type.String() }));

export const OutboxItem = Type.Object({
  id: Type.String(),
  accountId: Nullable(Type.String()),
  status: Type.String({ description: 'queued, sending, deferred, sent or failed' }),
  attempts: Type.Integer(),
  nextAttemptAt: Nullable(Type.String()),
  lastError: JobError,
  response: Nullable(Type.String()),
  messageId: Type.String(),
  sentAt: Nullable(Type.String()),
  sentCopy: Nullable(Type.String({ description: 'stored, skipped or failed; null while pending or for platform sends' })),
  via: Nullable(Type.String({ description: 'own (the account\'s SMTP) or platform (the platform processor, also when an account over its limits hands mail to it); null until sent' })),
  accepted: Type.Array(Type.String()),
  rejected: Type.Array(
    Type.Object({
      address: Type.String(),
      response: Type.String(),
      retryId: Type.Optional(Type.String({ description: 'refused for now (4xx): the follow-up job that sends to this address again' })),
    }),
  ),
  retryOf: Nullable(Type.String({ description: 'a follow-up (recipients refused for now, sent to again): the job that first sent the message; null for an ordinary job' })),
  subject: Type.String(),
  sendAt: Nullable(Type.String()),
  createdAt: Type.String(),
  updatedAt: Type.String(),
});

export const OutboxQuery = Type.Object(
  {
    status: Type.Optional(Type.String({ maxLength: 20 })),
    accountId: Type.Optional(Id),
    cursor: Type.Optional(Id),
    limit: Type.Optional(Type.String({ pattern: '^[0-9]{1,3}$', description: '1 to 200 (default 50)' })),
  },
  { additionalProperties: false },
);

export const OutboxPage = Type.Object({ items: Type.Array(OutboxItem), nextCursor: Nullable(Type.String()) });
