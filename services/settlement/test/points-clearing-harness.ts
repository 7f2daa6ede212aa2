// Set-up of the points clearing suites: the settlement service (in-process) on its own database and
// topic namespace with the clearing cycle job slowed down, a Kafka producer publishing points'
// events onto the points topic exactly as points' outbox relay would (CloudEvents headers,
// protobuf payload, key = holder id), a wait for an event in the `settlement.points` inbox, and a
// second PointsClearingService on the same database standing for another replica (runs cycles).
import { Kafka, logLevel, Producer } from 'kafkajs';
import type { Pool } from 'pg';
import { createLogger, EventType } from '@citybase/platform';
import {
  publishEvent,
  ServiceHarness,
  startServiceHarness,
  testEndpoints,
  uniqueName,
  waitFor,
} from '@citybase/platform/testing';
import { SettlementServiceService } from '@citybase/contracts/citybase/settlement/v1/settlement';
import { definition } from '../src/definition';
import { LedgerService } from '../src/ledger/ledger.service';
import { clearAccountCache } from '../src/ledger/ledger.store';
import { PointsClearingService } from '../src/points-clearing/points-clearing.service';

export interface PointsClearingHarness extends ServiceHarness<typeof SettlementServiceService> {
  /** Publishes one of points' events (key = holder id); resolves with its event id. */
  publish<T>(type: EventType<T>, payload: T, opts: { key: string; eventId?: string }): Promise<string>;
  /** Waits until `settlement.points` applied the event. */
  applied(eventId: string): Promise<void>;
  /** Another replica's clearing service: runs cycles on demand. */
  replica: PointsClearingService;
}

export async function startPointsClearingHarness(): Promise<PointsClearingHarness> {
  clearAccountCache();
  const h = await startServiceHarness({
    definition,
    grpcService: SettlementServiceService,
    label: 'points-clearing',
    env: () => ({
      DATABASE_POOL_SIZE: '10',
      SETTLEMENT_POINTS_CLEARING_INTERVAL_MS: '86400000',
      LOG_LEVEL: 'warn',
    }),
    poolSize: 12,
    scopes: ['settlement:read'],
  });
  h.onStop(() => clearAccountCache());
  let producer: Producer;
  try {
    producer = new Kafka({
      clientId: uniqueName('fake-points'),
      brokers: testEndpoints.kafkaBrokers(),
      logLevel: logLevel.NOTHING,
    }).producer({ allowAutoTopicCreation: false });
    await producer.connect();
  } catch (err) {
    await h.stop();
    throw err;
  }
  h.onStop(() => producer.disconnect());
  const source = { service: 'points', topicPrefix: h.topicPrefix };
  const pool = h.pool as unknown as Pool;
  // the replica posts through the ledger engine only (no request keys): Mutations is not used
  const ledger = new LedgerService(pool as never, undefined as never);
  return {
    ...h,
    publish: (type, payload, opts) => publishEvent(producer, source, type, payload, opts),
    async applied(eventId) {
      await waitFor(
        `event ${eventId} in the settlement.points inbox`,
        async () => {
          const { rowCount } = await h.pool.query(
            `SELECT 1 FROM inbox WHERE consumer = 'settlement.points' AND event_id = $1`,
            [eventId],
          );
          return rowCount === 1 ? true : undefined;
        },
        60_000,
        50,
      );
    },
    // the replica runs cycles only: no checkouts
    replica: new PointsClearingService(
      pool as never,
      createLogger('settlement-test', 'warn'),
      ledger,
      undefined as never,
    ),
  };
}

/** The lines of the ledger transaction with this idempotency key: [kind, operator/project/merchant, amount], sorted. */
export async function postingOf(pool: Pool, key: string): Promise<[number, string, bigint][]> {
  const { rows } = await pool.query<{ kind: number; owner: string; amount: string }>(
    `SELECT a.kind, a.operator_id || '/' || a.project_id || '/' || a.merchant_id AS owner,
            sum(e.amount_minor)::text AS amount
       FROM ledger_transactions t JOIN ledger_entries e USING (tx_id) JOIN ledger_accounts a USING (account_id)
      WHERE t.idempotency_key = $1
      GROUP BY 1, 2 ORDER BY 1, 2`,
    [key],
  );
  return rows.map((r) => [r.kind, r.owner, BigInt(r.amount)]);
}

/** How many ledger transactions carry this idempotency key (0 or 1). */
export async function transactionsWithKey(pool: Pool, key: string): Promise<number> {
  const { rows } = await pool.query<{ n: number }>(
    'SELECT count(*)::int AS n FROM ledger_transactions WHERE idempotency_key = $1',
    [key],
  );
  return rows[0]!.n;
}

/** Debit-positive balances of every account of a kind, by operator/project/merchant. */
export async function balancesOf(pool: Pool, kind: number): Promise<Map<string, bigint>> {
  const { rows } = await pool.query<{ owner: string; b: string }>(
    `SELECT a.operator_id || '/' || a.project_id || '/' || a.merchant_id AS owner, sum(b.balance_minor)::text AS b
       FROM ledger_accounts a JOIN ledger_balances b USING (account_id)
      WHERE a.kind = $1 GROUP BY 1`,
    [kind],
  );
  return new Map(rows.map((r) => [r.owner, BigInt(r.b)]));
}
