/**
 * Gathers the calls made while the event loop is busy with other work and runs them as one batch
 * when it comes round (`setImmediate`), or at once when `max` are waiting. Accepting many messages
 * at the same time then costs one database transaction, one commit, instead of one each, and each
 * caller still gets its own result (or its own error) only after the batch is stored.
 *
 * @example
 *   const inserts = new Batcher((rows: Row[]) => repo.insertMany(rows), 64);
 *   const { row, created } = await inserts.push(row); // resolves once the batch's transaction committed
 */
export class Batcher<I, O> {
  private pending: Array<{ item: I; resolve: (value: O) => void; reject: (reason: unknown) => void }> = [];
  private scheduled = false;

  /** `run` answers one settled result per item, in order; a rejection of `run` itself fails the whole batch. */
  constructor(
    private readonly run: (items: I[]) => Promise<Array<PromiseSettledResult<O>>>,
    private readonly max: number,
  ) {}

  push(item: I): Promise<O> {
    return new Promise<O>((resolve, reject) => {
      this.pending.push({ item, resolve, reject });
      if (this.pending.length >= this.max) this.flush();
      else if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => {
          this.scheduled = false;
          this.flush();
        });
      }
    });
  }

  private flush(): void {
    const batch = this.pending.splice(0, this.max);
    if (batch.length === 0) return;
    this.run(batch.map((b) => b.item)).then(
      (results) =>
        batch.forEach((b, i) => {
          const r = results[i];
          if (!r) b.reject(new Error('the batch answered fewer results than it was given items'));
          else if (r.status === 'fulfilled') b.resolve(r.value);
          else b.reject(r.reason);
        }),
      (err) => batch.forEach((b) => b.reject(err)),
    );
  }
}
