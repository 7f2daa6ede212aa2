import { createHash } from 'node:crypto';
import type { ClientBase, Pool } from 'pg';

/**
 * Prepared statements for every parameterized query of a pool's clients. Sent unnamed, each query
 * is parsed and planned by PostgreSQL on every execution, which is most of the server's work for
 * the short statements services send (pgbench, a one-row join: about 2.8x the statements per second
 * prepared). Named after a hash of their text, a statement is parsed once per connection and then
 * only bound and executed (node-pg keeps the names each connection has prepared).
 *
 * Bounds, so that texts that vary without end cannot fill every backend's memory: a text is named
 * from its second use on, at most MAX_NAMED texts per process, and not with more than MAX_PARAMS
 * parameters (multi-row inserts of varying length); the others are sent unnamed as before, and so
 * are queries without parameters (BEGIN, COMMIT, DDL).
 *
 * A schema change under a prepared statement that changes its result columns (a migration adding a
 * column under `SELECT *`) makes PostgreSQL refuse it ("cached plan must not change result type",
 * 0A000). The text then gets a new name, so every connection prepares it afresh on its next use; the
 * failed call is classified retryable (classifyPgError), and withTransaction retries it.
 */
const MAX_NAMED = 2_000;
/** Texts seen once are remembered up to this many, to be named when they come again. */
const MAX_SEEN = 20_000;
/** Statements with more parameters (multi-row inserts) are planned per call: they carry enough rows. */
const MAX_PARAMS = 100;
/** text -> its name; null: seen once (a text used once, such as a one-off dynamic query, stays unnamed). */
const seen = new Map<string, string | null>();
const generations = new Map<string, number>();
const prepared = new WeakSet<ClientBase>();
let named = 0;

function newName(text: string): string {
  const generation = generations.get(text) ?? 0;
  return `cb_${createHash('sha1').update(text).digest('hex').slice(0, 20)}_${generation}`;
}

function nameOf(text: string): string | undefined {
  const known = seen.get(text);
  if (known) return known;
  if (known === null) {
    if (named >= MAX_NAMED) return undefined;
    named++;
    const name = newName(text);
    seen.set(text, name);
    return name;
  }
  if (seen.size < MAX_SEEN) seen.set(text, null);
  return undefined;
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
  seen.set(text, newName(text));
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
    if (!Array.isArray(config.values) || config.values.length === 0 || config.values.length > MAX_PARAMS)
      return query(...args);
    const name = nameOf(config.text);
    if (name === undefined) return query(...args);
    const text = config.text;
    const stale = (err: unknown) => {
      if (isStalePreparedStatement(err) && seen.get(text) === name) renew(text);
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
