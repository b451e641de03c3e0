import type { Kysely, Selectable } from 'kysely';
import type { Database, OAuthAppsTable, OAuthStatesTable, OAuthTokensTable } from './schema.js';

export type OAuthAppRow = Selectable<OAuthAppsTable>;
export type OAuthStateRow = Selectable<OAuthStatesTable>;
export type OAuthTokenRow = Selectable<OAuthTokensTable>;

/** OAuth apps, pending sign-ins (states) and account tokens. Secrets arrive and leave sealed. */
export class OAuthRepository {
  constructor(private readonly db: Kysely<Database>) {}

  async insertApp(row: OAuthAppRow): Promise<void> {
    await this.db.insertInto('oauth_apps').values(row).execute();
  }

  async listApps(): Promise<OAuthAppRow[]> {
    return this.db.selectFrom('oauth_apps').selectAll().orderBy('created_at').orderBy('id').execute();
  }

  async getApp(id: string): Promise<OAuthAppRow | undefined> {
    return this.db.selectFrom('oauth_apps').selectAll().where('id', '=', id).executeTakeFirst();
  }

  /** The newest app of a provider: the one sign-ins use. */
  async currentApp(provider: string): Promise<OAuthAppRow | undefined> {
    return this.db.selectFrom('oauth_apps').selectAll().where('provider', '=', provider).orderBy('created_at', 'desc').orderBy('id', 'desc').executeTakeFirst();
  }

  async deleteApp(id: string): Promise<boolean> {
    const r = await this.db.deleteFrom('oauth_apps').where('id', '=', id).executeTakeFirst();
    return Number(r.numDeletedRows) > 0;
  }

  async insertState(row: OAuthStateRow): Promise<void> {
    await this.db.insertInto('oauth_states').values(row).execute();
  }

  /**
   * Takes a state once: marks it used and returns it, or undefined when it is unknown, already
   * used or expired. The conditional update makes two callbacks racing for one state see one winner.
   */
  async takeState(stateHash: string, now: string): Promise<OAuthStateRow | undefined> {
    const r = await this.db
      .updateTable('oauth_states')
      .set({ used_at: now })
      .where('state_hash', '=', stateHash)
      .where('used_at', 'is', null)
      .where('expires_at', '>', now)
      .executeTakeFirst();
    if (Number(r.numUpdatedRows) === 0) return undefined;
    return this.db.selectFrom('oauth_states').selectAll().where('state_hash', '=', stateHash).executeTakeFirst();
  }

  /** Removes states that expired before `before`. */
  async deleteExpiredStates(before: string): Promise<number> {
    const r = await this.db.deleteFrom('oauth_states').where('expires_at', '<', before).executeTakeFirst();
    return Number(r.numDeletedRows ?? 0);
  }

  async getTokens(accountId: string): Promise<OAuthTokenRow | undefined> {
    return this.db.selectFrom('oauth_tokens').selectAll().where('account_id', '=', accountId).executeTakeFirst();
  }

  async saveTokens(row: OAuthTokenRow): Promise<void> {
    const { account_id, ...rest } = row;
    const r = await this.db.updateTable('oauth_tokens').set(rest).where('account_id', '=', account_id).executeTakeFirst();
    if (Number(r.numUpdatedRows) === 0) await this.db.insertInto('oauth_tokens').values(row).execute();
  }

  async deleteTokens(accountId: string): Promise<void> {
    await this.db.deleteFrom('oauth_tokens').where('account_id', '=', accountId).execute();
  }
}
