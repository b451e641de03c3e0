import { describe, test, before } from 'node:test';
import assert from 'node:assert/strict';
import { DIALECTS } from '../../test/helpers/databases.js';
import { T0, twoConnections } from '../../test/helpers/stores.js';
import { type Repositories, type AccountRow, type OAuthStateRow } from './index.js';

const at = (seconds: number) => new Date(Date.parse(T0) + seconds * 1000).toISOString();

function account(id: string): AccountRow {
  return {
    id, tenant_id: 'ten_a', name: id, type: 'gmail', preset: 'gmail', email: `${id}@example.test`, from_name: null, username: null, password_enc: null,
    smtp_host: 'smtp.gmail.com', smtp_port: 465, smtp_security: 'tls', imap_host: 'imap.gmail.com', imap_port: 993, imap_security: 'tls',
    pop_host: null, pop_port: null, pop_security: null, receive_emails: 0, send_via: 'own', enabled: 1, status: 'unverified', last_error: null,
    warnings: '[]', limits: null, campaign_id: null, auth_failed_fingerprint: null, verified_at: null, created_at: T0, updated_at: T0,
  } as AccountRow;
}

function state(id: string, hash: string, accountId: string, expiresAt: string): OAuthStateRow {
  return { id, state_hash: hash, tenant_id: 'ten_a', account_id: accountId, app_id: 'oapp_1', verifier_enc: 'v1.k.iv.tag.ct', nonce: 'n', return_url: null, expires_at: expiresAt, used_at: null, created_at: T0 };
}

// The OAuth repository on every dialect: a state is taken once, even by two nodes at the same moment.
for (const { dialect, make } of DIALECTS) {
  describe(`oauth repository on ${dialect}`, () => {
    const db = twoConnections(make, ['ten_a']);
    let repo: Repositories;
    let other: Repositories;
    before(async () => {
      repo = db.repo;
      other = db.repo2;
      await repo.oauth.insertApp({
        id: 'oapp_1', provider: 'google', client_id: 'c', client_secret_enc: 'v1.k.iv.tag.ct', authorization_endpoint: 'https://a.test/auth',
        token_endpoint: 'https://a.test/token', issuer: 'https://a.test', tenant: null, scopes: '["https://mail.google.com/"]', created_at: T0,
      });
      await repo.accounts.insert(account('acc_1'));
      await repo.accounts.insert(account('acc_2'));
    });

    test('the newest app of a provider is the current one', async () => {
      await repo.oauth.insertApp({ ...(await repo.oauth.getApp('oapp_1'))!, id: 'oapp_2', created_at: at(1) });
      assert.equal((await repo.oauth.currentApp('google'))!.id, 'oapp_2');
      assert.equal(await repo.oauth.currentApp('microsoft'), undefined);
      assert.equal(await repo.oauth.deleteApp('oapp_2'), true);
      assert.equal((await repo.oauth.currentApp('google'))!.id, 'oapp_1');
    });

    test('a state is taken once, by one of two racing nodes, and never after it expired', async () => {
      await repo.oauth.insertState(state('ost_1', 'h1', 'acc_1', at(600)));
      const [a, b] = await Promise.all([repo.oauth.takeState('h1', at(10)), other.oauth.takeState('h1', at(10))]);
      assert.equal([a, b].filter(Boolean).length, 1);
      assert.equal((a ?? b)!.account_id, 'acc_1');
      assert.equal(await repo.oauth.takeState('h1', at(11)), undefined);
      await repo.oauth.insertState(state('ost_2', 'h2', 'acc_1', at(600)));
      assert.equal(await repo.oauth.takeState('h2', at(600)), undefined, 'expired');
      assert.equal(await repo.oauth.takeState('unknown', at(1)), undefined);
      assert.equal(await repo.oauth.deleteExpiredStates(at(601)), 2);
    });

    test('tokens are saved over, and go with their account', async () => {
      const row = { account_id: 'acc_2', app_id: 'oapp_1', access_token_enc: 'v1.a', refresh_token_enc: 'v1.r', expires_at: at(3600), scope: null, updated_at: T0 };
      await repo.oauth.saveTokens(row);
      await repo.oauth.saveTokens({ ...row, access_token_enc: 'v1.b', updated_at: at(1) });
      assert.equal((await repo.oauth.getTokens('acc_2'))!.access_token_enc, 'v1.b');
      assert.equal(await repo.accounts.delete('ten_a', 'acc_2'), true);
      assert.equal(await repo.oauth.getTokens('acc_2'), undefined);
    });
  });
}
