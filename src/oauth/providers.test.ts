import { test } from 'node:test';
import assert from 'node:assert/strict';
import { addressOfClaims, providerDefaults, providerOfType } from './providers.js';

test('Google defaults: endpoints, issuer, the one mail scope, offline access', () => {
  const g = providerDefaults('google', null);
  assert.equal(g.authorizationEndpoint, 'https://accounts.google.com/o/oauth2/v2/auth');
  assert.equal(g.tokenEndpoint, 'https://oauth2.googleapis.com/token');
  assert.equal(g.issuer, 'https://accounts.google.com');
  assert.deepEqual(g.scopes, ['https://mail.google.com/']);
  assert.deepEqual(g.extraParams, { access_type: 'offline', prompt: 'consent' });
});

test('Microsoft defaults follow the authority; multi-tenant issuers name the token\'s tenant', () => {
  for (const t of ['common', 'consumers', 'organizations']) {
    const m = providerDefaults('microsoft', t);
    assert.equal(m.authorizationEndpoint, `https://login.microsoftonline.com/${t}/oauth2/v2.0/authorize`);
    assert.equal(m.tokenEndpoint, `https://login.microsoftonline.com/${t}/oauth2/v2.0/token`);
    assert.equal(m.issuer, 'https://login.microsoftonline.com/{tenantid}/v2.0');
  }
  assert.equal(providerDefaults('microsoft', null).tokenEndpoint, 'https://login.microsoftonline.com/common/oauth2/v2.0/token');
  const own = providerDefaults('microsoft', '11111111-2222-3333-4444-555555555555');
  assert.equal(own.issuer, 'https://login.microsoftonline.com/11111111-2222-3333-4444-555555555555/v2.0');
  assert.deepEqual(own.scopes, ['https://outlook.office.com/IMAP.AccessAsUser.All', 'https://outlook.office.com/SMTP.Send', 'offline_access']);
});

test('the signed-in address: email first, then Microsoft\'s preferred_username / upn; lower-cased', () => {
  assert.equal(addressOfClaims({ email: 'Ann@Example.com', preferred_username: 'x@y.z' }), 'ann@example.com');
  assert.equal(addressOfClaims({ preferred_username: 'bob@contoso.com' }), 'bob@contoso.com');
  assert.equal(addressOfClaims({ upn: 'carl@contoso.com', preferred_username: 'not an address' }), 'carl@contoso.com');
  assert.equal(addressOfClaims({ sub: '123' }), null);
  assert.equal(providerOfType('gmail'), 'google');
  assert.equal(providerOfType('outlook'), 'microsoft');
  assert.equal(providerOfType('smtp_imap'), null);
});
