// Local OAuth2 issuer for the mail test peers (adapted from the shared peers kit).
//   usage: node oauth-server.mjs CONFIG_JSON     (CONFIG_JSON = the peers.json that peers.sh is writing)
//  - POST /token  (grant_type=password&username=<mailbox>&password=any) -> RS256 JWT with email=sub=<mailbox>
//  - GET  /userinfo with "Authorization: Bearer <jwt>" -> {active,email,sub,scope,exp} after verifying the
//    JWT signature and issuer, 401 {active:false} otherwise. Dovecot's oauth2 passdb uses this as its
//    introspection endpoint (introspection_mode = auth), the SMTP peer uses it for AUTH XOAUTH2.
//  - POST /revoke (token=<jwt>, JSON or form body) puts the token on a deny list.
//  - everything else (/jwks, /.well-known/openid-configuration, ...) is oauth2-mock-server's.
// Why not the mock's own /introspect: it answers {active:true} for any token, so it cannot tell tokens apart.
import http from 'node:http';
import fs from 'node:fs';
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

server.service.on('beforeTokenSigning', (token, req) => {
  const u = req.body?.username;
  if (u) { token.payload.email = u; token.payload.sub = u; }
  token.payload.scope = 'https://mail.example.test/';
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
