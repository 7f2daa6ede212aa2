import { AsyncLocalStorage, AsyncResource } from 'node:async_hooks';
import type { ClientBase, Pool } from 'pg';
import { Counter, Registry } from 'prom-client';

/**
 * Database round trips (queries sent, BEGIN and COMMIT included) by stage of the work that sent
 * them: a use case names its stage with `inDbStage('create', ...)`; queries outside any stage count
 * as 'other'. Exposed on /metrics as `db_round_trips_total{stage}` so that a benchmark can read
 * round trips per unit of work before and after a run (docs/performance.md).
 */
const stage = new AsyncLocalStorage<string>();
const counts = new Map<string, number>();
const counted = new WeakSet<ClientBase>();

/** Runs `fn` with the queries it sends (and those of what it awaits) counted under `name`. */
export function inDbStage<T>(name: string, fn: () => T): T {
  return stage.run(name, fn);
}

/** Counts the queries a pg client sends from now on (idempotent), under the stage of the caller or `fixedStage`. */
export function countRoundTrips<C extends ClientBase>(client: C, fixedStage?: string): C {
  if (counted.has(client)) return client;
  counted.add(client);
  const query = client.query.bind(client) as (...args: unknown[]) => unknown;
  (client as { query: unknown }).query = (...args: unknown[]) => {
    const name = fixedStage ?? stage.getStore() ?? 'other';
    counts.set(name, (counts.get(name) ?? 0) + 1);
    return query(...args);
  };
  return client;
}

/**
 * Counts the queries of every client of the pool, `pool.query` included: its wait for a free client
 * ends in the callback of whoever released one, so that callback is bound to the caller's context.
 */
export function countPoolRoundTrips(pool: Pool): void {
  pool.on('connect', (client) => void countRoundTrips(client));
  const connect = pool.connect.bind(pool) as (cb?: (...args: unknown[]) => void) => unknown;
  (pool as { connect: unknown }).connect = (cb?: (...args: unknown[]) => void) =>
    cb ? connect(AsyncResource.bind(cb)) : connect();
}

/** The process's round trips so far, by stage. */
export function roundTripCounts(): Record<string, number> {
  return Object.fromEntries(counts);
}

/** Serves the counts as `db_round_trips_total{stage}` on a registry (once per registry). */
export function registerRoundTripMetric(registry: Registry): void {
  if (registry.getSingleMetric('db_round_trips_total')) return;
  new Counter({
    name: 'db_round_trips_total',
    help: 'Queries sent to PostgreSQL (each one round trip), by stage of the work that sent them',
    labelNames: ['stage'],
    registers: [registry],
    collect() {
      this.reset();
      for (const [name, n] of counts) this.inc({ stage: name }, n);
    },
  });
}
