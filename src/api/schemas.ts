import { Type, type Static, type TSchema } from '@sinclair/typebox';

/**
 * JSON Schemas of the public API (API.md). Fastify validates requests with them, serialises
 * responses with them (so nothing outside the schema, such as a secret, can leak into a
 * response), and the OpenAPI document is generated from them.
 */

const Nullable = <T extends TSchema>(t: T) => Type.Union([t, Type.Null()]);

// no control characters at all (CR/LF would let a value smuggle protocol lines)
const SAFE_TEXT = '^[^\\u0000-\\u001f\\u007f]*$';

export const Security = Type.Union([Type.Literal('tls'), Type.Literal('starttls'), Type.Literal('none')], {
  description: '`tls`: SSL/TLS from the first byte (465, 993, 995); `starttls`: upgrade after connecting (587, 143, 110); `none`: no encryption',
});

export const Host = Type.String({ minLength: 1, maxLength: 253, pattern: '^\\[?[A-Za-z0-9._:%-]+\\]?$', description: 'host name or IP address' });
export const Port = Type.Integer({ minimum: 1, maximum: 65535, description: 'a whole number from 1 to 65535' });

export const Endpoint = Type.Object({ host: Host, port: Port, security: Security }, { additionalProperties: false, $id: 'Endpoint' });
export const EndpointPatch = Type.Partial(Type.Object({ host: Host, port: Port, security: Security }), { additionalProperties: false });

export const ErrorBody = Type.Object(
  {
    error: Type.Object({
      code: Type.String(),
      message: Type.String(),
      hint: Type.Optional(Type.String()),
      field: Type.Optional(Type.String()),
      protocol: Type.Optional(Type.String()),
    }),
    checks: Type.Optional(Type.Array(Type.Any())),
  },
  { $id: 'Error' },
);

const Name = Type.String({ minLength: 1, maxLength: 200, pattern: SAFE_TEXT });
const Email = Type.String({ minLength: 3, maxLength: 254, pattern: SAFE_TEXT });
const FromName = Nullable(Type.String({ maxLength: 200, pattern: SAFE_TEXT }));
const Id = Type.String({ minLength: 1, maxLength: 100, pattern: '^[A-Za-z0-9_-]+$' });

// ---- tenants
export const TenantCreate = Type.Object({ name: Name, companyEmail: Email, fromName: Type.Optional(FromName) }, { additionalProperties: false });
export type TenantCreate = Static<typeof TenantCreate>;
export const TenantPatch = Type.Object({ name: Type.Optional(Name), companyEmail: Type.Optional(Email), fromName: Type.Optional(FromName) }, { additionalProperties: false });
export type TenantPatch = Static<typeof TenantPatch>;
export const Tenant = Type.Object({
  id: Type.String(),
  name: Type.String(),
  companyEmail: Type.String(),
  fromName: Nullable(Type.String()),
  createdAt: Type.String(),
  updatedAt: Type.String(),
});
export const TenantCreated = Type.Intersect([Tenant, Type.Object({ apiKey: Type.String({ description: 'shown once; only its hash is stored' }) })]);

// ---- accounts
const AccountType = Type.Union([Type.Literal('smtp_imap'), Type.Literal('gmail'), Type.Literal('outlook'), Type.Literal('platform')]);
const Limit = Nullable(Type.Integer({ minimum: 1, maximum: 10_000_000 }));
const LimitsInput = Nullable(
  Type.Object(
    {
      perDay: Type.Optional(Limit), perMinute: Type.Optional(Limit), perHour: Type.Optional(Limit), recipientsPerMessage: Type.Optional(Limit),
      fallbackToPlatform: Type.Optional(Type.Boolean({ description: 'over the limits, send through the platform processor instead of deferring (default false)' })),
    },
    { additionalProperties: false, description: 'lower the provider limits for this account, and choose what happens over them' },
  ),
);
const Password = Type.String({ minLength: 1, maxLength: 1024, pattern: '^[^\\r\\n\\u0000]*$', description: 'never returned' });

const accountFields = {
  name: Name,
  type: AccountType,
  preset: Type.Optional(Nullable(Id)),
  email: Email,
  fromName: Type.Optional(FromName),
  username: Type.Optional(Nullable(Type.String({ minLength: 1, maxLength: 320, pattern: SAFE_TEXT }))),
  password: Type.Optional(Password),
  smtp: Type.Optional(Nullable(EndpointPatch)),
  imap: Type.Optional(Nullable(EndpointPatch)),
  pop: Type.Optional(Nullable(EndpointPatch)),
  receiveEmails: Type.Optional(Type.Boolean()),
  sendVia: Type.Optional(Type.Union([Type.Literal('own'), Type.Literal('platform')])),
  enabled: Type.Optional(Type.Boolean()),
  limits: Type.Optional(LimitsInput),
  campaignId: Type.Optional(Nullable(Id)),
};
export const AccountCreate = Type.Object(accountFields, { additionalProperties: false });
export type AccountCreate = Static<typeof AccountCreate>;
export const AccountPatch = Type.Partial(Type.Object(accountFields), { additionalProperties: false });
export type AccountPatch = Static<typeof AccountPatch>;

export const VerifyQuery = Type.Object({ verify: Type.Optional(Type.Union([Type.Literal('true'), Type.Literal('false')])) }, { additionalProperties: false });

const LastError = Nullable(Type.Object({ code: Type.String(), message: Type.String(), hint: Nullable(Type.String()), at: Type.String() }));
const Warning = Type.Object({ code: Type.String(), message: Type.String() });
export const Account = Type.Object(
  {
    id: Type.String(),
    name: Type.String(),
    type: Type.String(),
    preset: Nullable(Type.String()),
    email: Type.String(),
    fromName: Nullable(Type.String()),
    username: Type.String(),
    hasPassword: Type.Boolean(),
    smtp: Nullable(Type.Ref(Endpoint)),
    imap: Nullable(Type.Ref(Endpoint)),
    pop: Nullable(Type.Ref(Endpoint)),
    receiveEmails: Type.Boolean(),
    sendVia: Type.String(),
    enabled: Type.Boolean(),
    status: Type.Union([Type.Literal('unverified'), Type.Literal('active'), Type.Literal('error')]),
    statusColor: Type.Union([Type.Literal('grey'), Type.Literal('green'), Type.Literal('red')]),
    lastError: LastError,
    warnings: Type.Array(Warning),
    limits: Type.Object({ perDay: Nullable(Type.Integer()), perMinute: Nullable(Type.Integer()), perHour: Nullable(Type.Integer()), recipientsPerMessage: Nullable(Type.Integer()), fallbackToPlatform: Type.Boolean() }),
    campaignId: Nullable(Type.String()),
    verifiedAt: Nullable(Type.String()),
    createdAt: Type.String(),
    updatedAt: Type.String(),
  },
  { $id: 'Account' },
);

export const Check = Type.Object({
  protocol: Type.String(),
  ok: Type.Boolean(),
  code: Type.Optional(Type.String()),
  message: Type.Optional(Type.String()),
  hint: Type.Optional(Type.String()),
  response: Type.Optional(Type.String()),
  ms: Type.Number(),
});
export const VerifyResult = Type.Object({ status: Type.String(), checks: Type.Array(Check) });
export const Usage = Type.Object({
  perDay: Nullable(Type.Integer()),
  perMinute: Nullable(Type.Integer()),
  sentInWindow: Type.Integer(),
  remaining: Nullable(Type.Integer()),
  windowResetsAt: Nullable(Type.String()),
});

export const TestSendBody = Nullable(Type.Object({ to: Type.Optional(Email) }, { additionalProperties: false }));
export const TestSendResult = Type.Object({ messageId: Type.String(), accepted: Type.Array(Type.String()), response: Type.String() });

export const IdParams = Type.Object({ id: Id }, { additionalProperties: false });

// ---- catalog
export const DiscoverBody = Type.Object({ email: Email }, { additionalProperties: false });
export const Discovery = Type.Object({
  preset: Nullable(Type.String()),
  smtp: Nullable(Type.Ref(Endpoint)),
  imap: Nullable(Type.Ref(Endpoint)),
  pop: Nullable(Type.Ref(Endpoint)),
  source: Type.String(),
  username: Type.Optional(Type.String()),
  notes: Type.Optional(Type.Array(Type.String())),
});

/** Empty JSON object body for action routes (enable, disable, verify...): anything else is a 400. */
export const EmptyBody = Nullable(Type.Object({}, { additionalProperties: false }));
