import { Type, type TSchema } from '@sinclair/typebox';

/** JSON Schemas of the correspondence routes (API.md "Correspondence"). */

const Nullable = <T extends TSchema>(t: T) => Type.Union([t, Type.Null()]);
const Id = Type.String({ minLength: 1, maxLength: 100, pattern: '^[A-Za-z0-9_-]+$' });

const Address = Type.Object({ name: Nullable(Type.String()), address: Type.String() });

export const MessageQuery = Type.Object(
  {
    accountId: Type.Optional(Id),
    contact: Type.Optional(Type.String({ minLength: 3, maxLength: 320, description: 'an email address: messages exchanged with it (any case)' })),
    direction: Type.Optional(Type.String({ maxLength: 20, description: 'in or out' })),
    threadId: Type.Optional(Id),
    cursor: Type.Optional(Type.String({ minLength: 1, maxLength: 400, pattern: '^[A-Za-z0-9_-]+$', description: 'nextCursor of the previous page' })),
    limit: Type.Optional(Type.String({ pattern: '^[0-9]{1,3}$', description: '1 to 200 (default 50)' })),
  },
  { additionalProperties: false },
);

const itemFields = {
  id: Type.String(),
  accountId: Type.String(),
  direction: Type.String({ description: 'in or out' }),
  folder: Type.String(),
  messageId: Nullable(Type.String({ description: 'the Message-ID header, with angle brackets' })),
  threadId: Type.String(),
  from: Nullable(Address),
  to: Type.Array(Address),
  cc: Type.Array(Address),
  subject: Type.String(),
  date: Type.String(),
  snippet: Type.String(),
  hasAttachments: Type.Boolean(),
  parseError: Nullable(Type.String({ description: 'why the message could only be read in part (the raw message is kept whole); null when it parsed completely' })),
  outboxId: Nullable(Type.String({ description: 'the outbox job that sent it, when it went out through Mailport' })),
};

export const MessageItem = Type.Object(itemFields);

export const MessagePage = Type.Object({ items: Type.Array(MessageItem), nextCursor: Nullable(Type.String()) });

export const MessageDetail = Type.Object({
  ...itemFields,
  text: Nullable(Type.String()),
  html: Nullable(Type.String()),
  headers: Type.Array(Type.Object({ name: Type.String(), value: Type.String() }), { description: 'the message header lines in order, unfolded, values as they appear (encoded words not decoded); at most 300' }),
  attachments: Type.Array(Type.Object({ filename: Nullable(Type.String()), contentType: Type.String(), size: Type.Integer() })),
  locations: Type.Array(Type.Object({ folder: Type.String(), uid: Type.Integer(), flags: Type.Array(Type.String()), expunged: Type.Boolean() }), {
    description: 'where the message is on the mail server (IMAP folder and UID) with its flags there, as the last sync saw them; expunged: deleted from that folder since',
  }),
});
