import { Type, type Static } from '@sinclair/typebox';

/** Schemas of API.md "Hosted settings page": connect sessions. */

export const ConnectSessionCreate = Type.Object(
  {
    returnUrl: Type.Optional(Type.String({ minLength: 1, maxLength: 2048, pattern: '^https?://[^\\u0000-\\u0020\\u007f]+$', description: 'where the page\'s "Done" button returns to (http or https)' })),
    expiresIn: Type.Optional(Type.Integer({ minimum: 1, maximum: 86_400, description: 'seconds until the link stops working (default 3600, at most 86400)' })),
  },
  { additionalProperties: false },
);
export type ConnectSessionCreate = Static<typeof ConnectSessionCreate>;

export const ConnectSessionCreated = Type.Object({
  url: Type.String({ description: 'the settings page, with the session token in the fragment (#token=...); hand it to one person' }),
  expiresAt: Type.String(),
});

export const ConnectSessionInfo = Type.Object({
  tenantId: Type.String(),
  returnUrl: Type.Union([Type.String(), Type.Null()]),
  expiresAt: Type.Union([Type.String(), Type.Null()]),
});
