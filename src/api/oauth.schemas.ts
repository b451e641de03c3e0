import { Type, type Static } from '@sinclair/typebox';

/** JSON Schemas of the OAuth routes (API.md "OAuth apps"; authorize-url and callback). The client secret never leaves. */

const Url = Type.String({ minLength: 1, maxLength: 2048, pattern: '^[^\\s\\u0000-\\u001f\\u007f]*$' });

export const OAuthAppCreate = Type.Object(
  {
    provider: Type.Unsafe<'google' | 'microsoft'>({ type: 'string', enum: ['google', 'microsoft'] }),
    clientId: Type.String({ minLength: 1, maxLength: 500, pattern: '^[\\x21-\\x7e]+$' }),
    clientSecret: Type.String({ minLength: 1, maxLength: 1000, pattern: '^[\\x20-\\x7e]+$', description: 'stored encrypted; never returned' }),
    authorizationEndpoint: Type.Optional(Url),
    tokenEndpoint: Type.Optional(Url),
    issuer: Type.Optional(Type.String({ minLength: 1, maxLength: 2048, pattern: '^[^\\s\\u0000-\\u001f\\u007f]*$', description: "the ID tokens' iss; defaults to the provider's, or the origin of overridden endpoints" })),
    tenant: Type.Optional(Type.String({ minLength: 1, maxLength: 100, description: 'Microsoft authority: common (default), consumers, organizations, or a tenant id' })),
    scopes: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 300, pattern: '^[\\x21-\\x7e]+$' }), { maxItems: 20, description: "mail scopes replacing the provider's; openid and email are always added" })),
  },
  { additionalProperties: false },
);
export type OAuthAppCreate = Static<typeof OAuthAppCreate>;

export const OAuthApp = Type.Object({
  id: Type.String(),
  provider: Type.String(),
  clientId: Type.String(),
  authorizationEndpoint: Type.String(),
  tokenEndpoint: Type.String(),
  issuer: Type.String(),
  tenant: Type.Union([Type.String(), Type.Null()]),
  scopes: Type.Array(Type.String()),
  createdAt: Type.String(),
});

export const AuthorizeUrlQuery = Type.Object({ returnUrl: Type.Optional(Url) }, { additionalProperties: false });
export type AuthorizeUrlQuery = Static<typeof AuthorizeUrlQuery>;

export const CallbackQuery = Type.Object(
  {
    code: Type.Optional(Type.String({ maxLength: 4096 })),
    state: Type.Optional(Type.String({ maxLength: 512 })),
    error: Type.Optional(Type.String({ maxLength: 200 })),
    error_description: Type.Optional(Type.String({ maxLength: 2000 })),
    error_uri: Type.Optional(Type.String({ maxLength: 2048 })),
    iss: Type.Optional(Type.String({ maxLength: 2048 })),
    scope: Type.Optional(Type.String({ maxLength: 4096 })),
    session_state: Type.Optional(Type.String({ maxLength: 512 })),
    authuser: Type.Optional(Type.String({ maxLength: 50 })),
    hd: Type.Optional(Type.String({ maxLength: 255 })),
    prompt: Type.Optional(Type.String({ maxLength: 100 })),
  },
  { additionalProperties: true },
);

export const CallbackResult = Type.Object({
  accountId: Type.String(),
  status: Type.String({ description: 'active or error' }),
  code: Type.Optional(Type.String()),
  message: Type.Optional(Type.String()),
});
