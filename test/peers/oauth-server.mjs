// Local OAuth2 issuer for the mail test peers (adapted from the shared peers kit).
//   usage: node oauth-server.mjs CONFIG_JSON     (CONFIG_JSON = the peers.json that peers.sh is writing)
//  - POST /token  (grant_type=password&username=<mailbox>&password=any) -> RS256 JWT with email=sub=<mailbox>
//  - GET  /userinfo with "Authorization: Bearer <jwt>" -> {active,email,sub,scope,exp} after verifying the
//    JWT signature and issuer, 401 {active:false} otherwise. Dovecot's oauth2 passdb uses this as its
//    introspection endpoint (introspection_mode = auth), the SMTP peer uses it for AUTH XOAUTH2.
//  - POST /revoke (token=<jwt>, JSON or form body) puts the token on a deny list.
//  - GET /authorize?response_type=code&login_hint=<mailbox>&code_challenge=...&state=... (the mock's, with PKCE)
//    redirects to redirect_uri with a code; the login_hint is who "signed in": the code grant's access and ID
//    tokens carry email=sub=<mailbox>, and so do tokens from the refresh token issued with them.
//  - POST /token grant_type=refresh_token with a revoked refresh token (see /revoke) -> 400 invalid_grant
//    (AADSTS50173, as Microsoft answers after a password change).
//  - POST /test/token-ttl {email, seconds} (JSON or form): tokens minted for <email> from then on expire after
//    <seconds> (expires_in and the JWT exp); seconds=0 restores the default. For refresh tests.
//  - everything else (/jwks, /.well-known/openid-configuration, ...) is oauth2-mock-server's.
// Why not the mock's own /introspect: it answers {active:true} for any token, so it cannot tell tokens apart.
import http from 'node:http';
import fs from 'node:fs';
import { randomUUID } from 'node:crypto';
import { OAuth2Server } from 'oauth2-mock-server';
import { createLocalJWKSet, jwtVerify } from 'jose';

const cfg = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const port = cfg.oauth.port;
const host = cfg.host;
const log = (...a) => console.log(new Date().toISOString(), ...a);

const server = new OAuth2Server();
await server.issuer.keys.generate('RS256');
server.issuer.url = `http://${host}:${port}`;
const revoked = new Set();

// authorization-code flow: code -> signed-in mailbox (login_hint), refresh token -> mailbox
const codeEmail = new Map();
const refreshEmail = new Map();
const ttlByEmail = new Map();
server.service.on('beforeAuthorizeRedirect', (redirect, req) => {
  const code = redirect.url.searchParams.get('code');
  const hint = typeof req.query?.login_hint === 'string' ? req.query.login_hint.toLowerCase() : null;
  if (code && hint) codeEmail.set(code, hint);
});
function emailOfTokenRequest(body) {
  if (body?.grant_type === 'authorization_code') return codeEmail.get(body.code);
  if (body?.grant_type === 'refresh_token') return refreshEmail.get(body.refresh_token);
  return undefined;
}

server.service.on('beforeTokenSigning', (token, req) => {
  const u = req.body?.username ?? emailOfTokenRequest(req.body);
  if (u) { token.payload.email = u; token.payload.sub = u; }
  token.payload.scope = 'https://mail.example.test/';
  const ttl = u ? ttlByEmail.get(u) : undefined;
  if (ttl) token.payload.exp = token.payload.iat + ttl;
  // tokens of the code/refresh flow minted within one second must differ (one may be revoked, the next not)
  if (emailOfTokenRequest(req.body)) token.payload.jti = randomUUID();
});
server.service.on('beforeResponse', (resp, req) => {
  const body = req.body ?? {};
  const email = emailOfTokenRequest(body);
  if (body.grant_type === 'refresh_token' && revoked.has(String(body.refresh_token))) {
    resp.statusCode = 400;
    resp.body = { error: 'invalid_grant', error_description: 'AADSTS50173: The provided grant has expired due to it being revoked.' };
    log('POST /token refresh refused (revoked)');
    return;
  }
  if (email && resp.body?.refresh_token) refreshEmail.set(resp.body.refresh_token, email);
  if (body.grant_type === 'authorization_code') codeEmail.delete(body.code);
  const ttl = email ? ttlByEmail.get(email) : undefined;
  if (ttl && resp.body) resp.body.expires_in = ttl;
  if (email) log('POST /token', body.grant_type, `(${email})`);
});
// beforeUserinfo is synchronous and jose is async, so the JWT is verified in the wrapper below first
server.service.on('beforeUserinfo', (resp, req) => {
  const p = req.verifiedClaims;
  if (!p) { resp.statusCode = 401; resp.body = { active: false, error: 'invalid_token' }; return; }
  resp.body = { active: true, email: p.email, sub: p.sub, scope: p.scope, exp: p.exp };
});

async function verify(req) {
  const m = /^Bearer\s+(.+)$/i.exec(req.headers.authorization || '');
  if (!m || revoked.has(m[1])) return null;
  try {
    const jwks = createLocalJWKSet({ keys: server.issuer.keys.toJSON() });
    const { payload } = await jwtVerify(m[1], jwks, { issuer: server.issuer.url });
    return payload;
  } catch { return null; }
}

async function readBody(req) {
  const chunks = [];
  for await (const c of req) chunks.push(c);
  const text = Buffer.concat(chunks).toString('utf8');
  if (/json/i.test(req.headers['content-type'] || '')) { try { return JSON.parse(text); } catch { return {}; } }
  return Object.fromEntries(new URLSearchParams(text));
}

const inner = server.service.requestHandler;
const srv = http.createServer(async (req, res) => {
  const path = (req.url || '').split('?')[0];
  if (req.method === 'POST' && path === '/revoke') {
    // handled here: the mock's /revoke only parses JSON bodies, RFC 7009 clients send a form
    const body = await readBody(req);
    if (body.token) revoked.add(String(body.token));
    log('POST /revoke', body.token ? 'revoked' : 'no token');
    res.writeHead(200).end();
    return;
  }
  if (req.method === 'POST' && path === '/test/token-ttl') {
    const body = await readBody(req);
    const email = String(body.email || '').toLowerCase();
    const seconds = Number(body.seconds);
    if (!email || !Number.isInteger(seconds) || seconds < 0) { res.writeHead(400).end(); return; }
    if (seconds === 0) ttlByEmail.delete(email); else ttlByEmail.set(email, seconds);
    log('POST /test/token-ttl', email, seconds);
    res.writeHead(204).end();
    return;
  }
  if (path === '/userinfo') {
    req.verifiedClaims = await verify(req);
    log(req.method, path, req.verifiedClaims ? `valid (${req.verifiedClaims.email})` : 'INVALID');
  } else {
    log(req.method, path);
  }
  inner(req, res);
});
srv.listen(port, host, () => log(`oauth2 issuer on ${server.issuer.url} pid ${process.pid}`));
for (const s of ['SIGTERM', 'SIGINT']) {
  process.on(s, () => {
    srv.close(() => process.exit(0));
    srv.closeAllConnections?.();
    setTimeout(() => process.exit(0), 2000).unref();
  });
}
