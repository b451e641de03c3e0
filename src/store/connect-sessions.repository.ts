import type { Kysely, Selectable } from 'kysely';
import type { ConnectSessionsTable, Database } from './schema.js';

export type ConnectSessionRow = Selectable<ConnectSessionsTable>;

/** Connect sessions of the hosted settings page, found by the hash of their token. */
export class ConnectSessionsRepository {
  constructor(private readonly db: Kysely<Database>) {}

  async insert(row: ConnectSessionRow): Promise<void> {
    await this.db.insertInto('connect_sessions').values(row).execute();
  }

  async findByHash(tokenHash: string): Promise<ConnectSessionRow | undefined> {
    return this.db.selectFrom('connect_sessions').selectAll().where('token_hash', '=', tokenHash).executeTakeFirst();
  }

  /** Removes sessions that expired before `before` (ISO time); returns how many. */
  async deleteExpired(before: string): Promise<number> {
    const result = await this.db.deleteFrom('connect_sessions').where('expires_at', '<', before).executeTakeFirst();
    return Number(result.numDeletedRows ?? 0);
  }
}
