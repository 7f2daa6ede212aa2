import { Pool, PoolClient, PoolConfig, types } from 'pg';
import { classifyPgError } from '../errors';
import { preparePoolQueries } from './prepared';
import { countPoolRoundTrips } from './round-trips';

// int8/bigint columns come back as bigint, never as a lossy number or a string to forget about.
types.setTypeParser(types.builtins.INT8, (v: string) => BigInt(v));

export type { Pool, PoolClient } from 'pg';

export function createPool(
  connectionString: string,
  options: Omit<PoolConfig, 'connectionString'> = {},
): Pool {
  const pool = new Pool({
    connectionString,
    max: 10,
    idleTimeoutMillis: 30_000,
    // Also the longest wait for a free pooled client under load; past it the call answers
    // UNAVAILABLE (classifyPgError), which callers retry.
    connectionTimeoutMillis: 10_000,
    application_name: options.application_name ?? 'citybase',
    ...options,
  });
  // An idle client losing its connection must not crash the process; the pool replaces it.
  pool.on('error', () => undefined);
  countPoolRoundTrips(pool);
  preparePoolQueries(pool);
  return pool;
}

export type IsolationLevel = 'read committed' | 'repeatable read' | 'serializable';

export interface TransactionOptions {
  isolation?: IsolationLevel;
  /** Attempts on serialization failure or deadlock before giving up (default 5). */
  maxAttempts?: number;
}

/**
 * Runs `fn` in one transaction. Serialization failures and deadlocks are retried with jittered
 * backoff; every other error rolls back and propagates unchanged.
 */
export async function withTransaction<T>(
  pool: Pool,
  fn: (client: PoolClient) => Promise<T>,
  options: TransactionOptions = {},
): Promise<T> {
  const maxAttempts = options.maxAttempts ?? 5;
  for (let attempt = 1; ; attempt++) {
    const client = await pool.connect().catch((err: unknown) => {
      throw classifyPgError(err) ?? err;
    });
    let broken = false;
    try {
      await client.query(`BEGIN ISOLATION LEVEL ${(options.isolation ?? 'read committed').toUpperCase()}`);
      const result = await fn(client);
      await client.query('COMMIT');
      return result;
    } catch (err) {
      try {
        await client.query('ROLLBACK');
      } catch {
        broken = true; // connection is gone; do not return it to the pool
      }
      const infra = classifyPgError(err);
      if (infra?.kind === 'aborted' && attempt < maxAttempts) {
        await new Promise((r) => setTimeout(r, Math.random() * 10 * 2 ** attempt));
        continue;
      }
      throw infra ?? err;
    } finally {
      client.release(broken);
    }
  }
}

/**
 * Runs `fn` inside a savepoint of the caller's transaction. When it throws an error `undo` accepts,
 * what it wrote is rolled back to the savepoint and the answer is undefined (the transaction goes
 * on); any other error is thrown on (and the whole transaction rolls back).
 */
export async function inSavepoint<T>(
  client: PoolClient,
  name: string,
  fn: () => Promise<T>,
  undo: (err: unknown) => boolean,
): Promise<T | undefined> {
  if (!/^[a-z_]+$/.test(name)) throw new Error(`savepoint name ${name}: lowercase letters and underscores`);
  await client.query(`SAVEPOINT ${name}`);
  try {
    const result = await fn();
    await client.query(`RELEASE SAVEPOINT ${name}`);
    return result;
  } catch (err) {
    if (!undo(err)) throw err;
    await client.query(`ROLLBACK TO SAVEPOINT ${name}`);
    return undefined;
  }
}
