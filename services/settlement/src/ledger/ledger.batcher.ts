import { classifyPgError, InfrastructureError, Pool, PoolClient, withTransaction } from '@citybase/platform';
import { post, PostedTransaction, PostInput, postMany } from './ledger.store';

/**
 * Group commit of postings that stand alone (docs/adr/0006-settlement-ledger.md "Group commit"):
 * postings that arrive while a batch commits are gathered into the next one, and a batch is one
 * database transaction of three statements (postMany). Each caller gets its own posting's result or
 * error, after the batch has committed. A posting the database refuses does not fail the others: the
 * batch is retried in one transaction with a savepoint per posting, and only the refused one fails.
 */
interface Waiting {
  input: PostInput;
  resolve: (t: PostedTransaction) => void;
  reject: (err: Error) => void;
}

export class LedgerBatcher {
  private readonly queue: Waiting[] = [];
  private inFlight = 0;
  private readonly maxBatch: number;
  private readonly lanes: number;
  private readonly stats = { batches: 0, postings: 0, fallbacks: 0 };

  constructor(
    private readonly pool: Pool,
    opts: { maxBatch?: number; lanes?: number } = {},
  ) {
    this.maxBatch = opts.maxBatch ?? 500;
    this.lanes = opts.lanes ?? 1;
  }

  /** Posts a balanced transaction in the next batch; idempotent by its key, as `post`. */
  post(input: PostInput): Promise<PostedTransaction> {
    return new Promise((resolve, reject) => {
      this.queue.push({ input, resolve, reject });
      this.pump();
    });
  }

  /** Batches committed (or failed) so far, the postings in them, and how many took the slow path. */
  counts(): { batches: number; postings: number; fallbacks: number } {
    return { ...this.stats };
  }

  private pump(): void {
    while (this.inFlight < this.lanes && this.queue.length > 0) {
      const batch = this.queue.splice(0, this.maxBatch);
      this.inFlight++;
      void this.commit(batch).finally(() => {
        this.inFlight--;
        this.pump();
      });
    }
  }

  private async commit(batch: Waiting[]): Promise<void> {
    this.stats.batches++;
    this.stats.postings += batch.length;
    const inputs = batch.map((b) => b.input);
    let outcomes: (PostedTransaction | Error)[];
    try {
      outcomes = await withTransaction(this.pool, (client) => postMany(client, inputs));
    } catch (err) {
      // one posting's own refusal, or the database's trouble (every posting would meet it alone)
      if (batch.length === 1 || err instanceof InfrastructureError || classifyPgError(err)) {
        for (const b of batch) b.reject(err as Error);
        return;
      }
      this.stats.fallbacks++;
      try {
        outcomes = await withTransaction(this.pool, (client) => oneByOne(client, inputs));
      } catch (err2) {
        for (const b of batch) b.reject(err2 as Error);
        return;
      }
    }
    batch.forEach((b, i) => {
      const o = outcomes[i];
      if (o instanceof Error) b.reject(o);
      else b.resolve(o!);
    });
  }
}

/**
 * The slow path: each posting under its own savepoint, the zero-sum check at each statement, so
 * whatever the database refuses is attributed to its posting and rolled back alone.
 */
async function oneByOne(client: PoolClient, inputs: PostInput[]): Promise<(PostedTransaction | Error)[]> {
  await client.query('SET CONSTRAINTS ledger_entries_zero_sum IMMEDIATE');
  const outcomes: (PostedTransaction | Error)[] = [];
  for (const input of inputs) {
    await client.query('SAVEPOINT posting');
    try {
      outcomes.push(await post(client, input));
      await client.query('RELEASE SAVEPOINT posting');
    } catch (err) {
      await client.query('ROLLBACK TO SAVEPOINT posting');
      // a conflict with another transaction is the batch's, not the posting's: retry the batch
      if (classifyPgError(err)) throw err;
      outcomes.push(err instanceof Error ? err : new Error(String(err)));
    }
  }
  return outcomes;
}
