import { CompiledQuery, type Kysely, type QueryResult } from 'kysely';

/**
 * SQL built once per shape and run again with new parameters. Building and compiling a Kysely
 * query cost about as much as SQLite takes to run a small one; for the statements that run for
 * every message this keeps the compiled text by a key naming its shape (the table and the number
 * of rows, say). The text is kept only when the query's parameters are exactly the ones given, in
 * that order, so a shape that compiles differently (an undefined value dropped) is simply built
 * each time; parameters with an undefined value never use a kept text.
 *
 * @example
 *   const shapes = new CompiledShapes();
 *   await shapes.run(db, `refs:${rows.length}`, rows.flatMap((r) => [r.message_pk, r.account_id, r.ref]), () => db.insertInto('mail_message_refs').values(rows).compile());
 */
export class CompiledShapes {
  private readonly texts = new Map<string, string>();

  async run<R = unknown>(db: Kysely<any>, key: string, params: unknown[], build: () => CompiledQuery<R>): Promise<QueryResult<R>> {
    const text = params.includes(undefined) ? undefined : this.texts.get(key);
    if (text !== undefined) return db.executeQuery(CompiledQuery.raw(text, params) as CompiledQuery<R>);
    const query = build();
    if (query.parameters.length === params.length && query.parameters.every((p, i) => p === params[i])) this.texts.set(key, query.sql);
    return db.executeQuery(query);
  }
}
