import { createHash } from 'node:crypto';
import type { ClientBase, Pool } from 'pg';

/**
 * Prepared statements for every parameterized query of a pool's clients. Sent unnamed, each query
 * is parsed and planned by PostgreSQL on every execution, which is most of the server's work for
 * the short statements services send (pgbench, a one-row join: about 2.8x the statements per second
 * prepared). Named after a hash of their text, a statement is parsed once per connection and then
 * only bound and executed (node-pg keeps the names each connection has prepared).
 *
 * Bounds: at most MAX_STATEMENTS distinct texts per process are named (texts that vary without end,
 * such as multi-row inserts of varying length, would otherwise fill every backend's memory); the
 * others are sent unnamed as before. Queries without parameters (BEGIN, COMMIT, DDL) go as they are.
 *
 * A schema change under a prepared statement that changes its result columns (a migration adding a
 * column under `SELECT *`) makes PostgreSQL refuse it ("cached plan must not change result type",
 * 0A000). The text then gets a new name, so every connection prepares it afresh on its next use; the
 * failed call is classified retryable (classifyPgError), and withTransaction retries it.
 */
const MAX_STATEMENTS = 2_000;
const names = new Map<string, string>();
const generations = new Map<string, number>();
const prepared = new WeakSet<ClientBase>();

function nameOf(text: string): string | undefined {
  const known = names.get(text);
  if (known !== undefined) return known;
  if (names.size >= MAX_STATEMENTS) return undefined;
  const generation = generations.get(text) ?? 0;
  const name = `cb_${createHash('sha1').update(text).digest('hex').slice(0, 20)}_${generation}`;
  names.set(text, name);
  return name;
}

/** PostgreSQL's refusal of a prepared statement whose result columns changed under it. */
export function isStalePreparedStatement(err: unknown): boolean {
  const e = err as { code?: unknown; message?: unknown } | null;
  return (
    e?.code === '0A000' &&
    typeof e.message === 'string' &&
    e.message.includes('cached plan must not change result type')
  );
}

function renew(text: string): void {
  generations.set(text, (generations.get(text) ?? 0) + 1);
  names.delete(text);
}

type Callback = (err: Error | null, res?: unknown) => void;

/** Names the parameterized queries a client sends from now on (idempotent). */
export function prepareQueries<C extends ClientBase>(client: C): C {
  if (prepared.has(client)) return client;
  prepared.add(client);
  const query = client.query.bind(client) as (...args: unknown[]) => unknown;
  (client as { query: unknown }).query = (...args: unknown[]) => {
    const [first, second, third] = args;
    // node-pg's forms: (text | config, values?, callback?), (text | config, callback)
    const callback = (typeof second === 'function' ? second : third) as Callback | undefined;
    const values = typeof second === 'function' ? undefined : second;
    let config: { text: string; values: unknown[] } & Record<string, unknown>;
    if (typeof first === 'string') {
      config = { text: first, values: values as unknown[] };
    } else if (
      typeof first === 'object' &&
      first !== null &&
      typeof (first as { submit?: unknown }).submit !== 'function' &&
      (first as { name?: unknown }).name === undefined &&
      typeof (first as { text?: unknown }).text === 'string'
    ) {
      const c = first as { text: string; values?: unknown[] } & Record<string, unknown>;
      config = { ...c, values: (values as unknown[] | undefined) ?? (c.values as unknown[]) };
    } else {
      return query(...args);
    }
    if (!Array.isArray(config.values) || config.values.length === 0) return query(...args);
    const name = nameOf(config.text);
    if (name === undefined) return query(...args);
    const text = config.text;
    const stale = (err: unknown) => {
      if (isStalePreparedStatement(err) && names.get(text) === name) renew(text);
    };
    if (callback)
      return query({ ...config, name }, undefined, (err: Error | null, res?: unknown) => {
        if (err) stale(err);
        callback(err, res);
      });
    return (query({ ...config, name }) as Promise<unknown>).catch((err: unknown) => {
      stale(err);
      throw err;
    });
  };
  return client;
}

/** Every client the pool connects from now on names its parameterized queries. */
export function preparePoolQueries(pool: Pool): void {
  pool.on('connect', (client) => void prepareQueries(client));
}
