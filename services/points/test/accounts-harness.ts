// Set-up of the accounts suites: the points harness (points-harness.ts) with the expiry jobs slowed
// down, programmes and budgets set through their RPCs, and a second AccountsService on the same database standing
// for another replica, so a test can run the expiry passes itself (and twice at once).
import type { Pool } from 'pg';
import { cityPeriod, createLogger, enqueue, Mutations, Outbox } from '@citybase/platform';
import { uniqueName } from '@citybase/platform/testing';
import { Programme, ShortfallPolicy } from '@citybase/contracts/citybase/points/v1/points';
import { PointsEvents } from '@citybase/contracts/events';
import { AccountsService } from '../src/accounts/accounts.service';
import { BudgetsService } from '../src/budgets/budgets.service';
import { pointsConfig } from '../src/config';
import { ProgrammesService } from '../src/programmes/programmes.service';
import { TiersService } from '../src/tiers/tiers.service';
import { cityClient, PointsHarness, startPointsHarness } from './points-harness';
export { errorCode, errorField, grpcError } from './points-harness';
export type { PointsClient, PointsHarness } from './points-harness';

/** What a back office (issuance) and a checkout (reservations) may do. */
export const POINTS_SCOPES = ['points:read', 'points:write', 'points:issue'];

/** The service with its jobs slowed to once per 10 minutes: tests run the passes themselves. */
export function startAccountsHarness(): Promise<PointsHarness> {
  return startPointsHarness('points-accounts', {
    POINTS_HOLD_EXPIRY_INTERVAL_MS: '600000',
    POINTS_LOT_EXPIRY_INTERVAL_MS: '600000',
    POINTS_EXPIRY_NOTICE_INTERVAL_MS: '600000',
    POINTS_TIER_INTERVAL_MS: '600000',
  });
}

/** What a service of another replica is built from: the service's database, its outbox, logger and config. */
/**
 * The parts of another replica of the service under test: on its database, and enqueuing onto its
 * topics (its KAFKA_TOPIC_PREFIX: an event enqueued for another topic would stop the service's relay
 * at that row, which it could not publish).
 */
export function replicaParts(h: { pool: unknown; topicPrefix: string }) {
  const pool = h.pool as Pool;
  const logger = createLogger('points-test', 'warn');
  const outbox: Outbox = {
    enqueue: (client, type, payload, opts) =>
      enqueue(
        client,
        { city: 'test-city', service: 'points', topicPrefix: h.topicPrefix },
        type,
        payload,
        opts,
      ),
  };
  const config = pointsConfig.parse({ CITY_ID: 'test-city', DATABASE_URL: 'postgres://unused/unused' });
  const mutations = () => new Mutations(pool as never, outbox, logger);
  return {
    logger,
    outbox,
    config,
    mutations,
    budgets: () => new BudgetsService(pool as never, mutations()),
    programmes: () => new ProgrammesService(pool as never, mutations()),
    tiers: () =>
      new TiersService(pool as never, outbox, logger, new ProgrammesService(pool as never, mutations())),
  };
}

/** Another replica's AccountsService on the service's database: runs the expiry passes on demand. */
export function replica(h: { pool: unknown; topicPrefix: string }): AccountsService {
  const r = replicaParts(h);
  return new AccountsService(
    h.pool as never,
    r.outbox,
    r.logger,
    r.config,
    r.mutations(),
    r.budgets(),
    r.programmes(),
  );
}

/**
 * An operator's programme through SetProgramme: 1 fen per point, lots living 365 days, no refund
 * window, shortfalls as debt, no tiers; `over` changes any of these.
 */
export async function seedProgramme(
  h: PointsHarness,
  operatorId: string,
  over: Partial<Programme> = {},
): Promise<void> {
  await cityClient(h).setProgramme({
    requestId: uniqueName('programme'),
    programme: {
      tenancy: { operatorId, projectId: '', merchantId: '' },
      pointValue: { currency: 'CNY', amountMinor: 1n },
      lotLifetimeDays: 365,
      refundWindowHours: 0,
      shortfallPolicy: ShortfallPolicy.SHORTFALL_POLICY_DEBT,
      expiryNoticeDays: 0,
      tiers: [],
      tierWindowDays: 365,
      updatedAt: undefined,
      ...over,
    },
  });
}

/** Budgets of this period (city time) through SetBudget: the city's, then the operator's `allotted`. */
export async function seedBudget(h: PointsHarness, operatorId: string, allotted: bigint): Promise<void> {
  const admin = cityClient(h);
  const period = cityPeriod(new Date());
  const city = await admin
    .getBudget({ tenancy: { operatorId: '', projectId: '', merchantId: '' }, period })
    .catch(() => undefined);
  await admin.setBudget({
    requestId: uniqueName('budget'),
    tenancy: { operatorId: '', projectId: '', merchantId: '' },
    period,
    allotted: (city?.budget?.allotted ?? 0n) + allotted,
  });
  await admin.setBudget({
    requestId: uniqueName('budget'),
    tenancy: { operatorId, projectId: '', merchantId: '' },
    period,
    allotted,
  });
}

/** The issued, redeemed and expired totals of the operator's node of this period. */
export async function budgetTotals(
  pool: Pool,
  operatorId: string,
): Promise<{ issued: bigint; redeemed: bigint; expired: bigint }> {
  const { rows } = await pool.query<{ issued: bigint; redeemed: bigint; expired: bigint }>(
    `SELECT issued, redeemed, expired FROM budgets WHERE operator_id = $1 AND project_id = '' AND period = $2`,
    [operatorId, cityPeriod(new Date())],
  );
  return rows[0] ?? { issued: 0n, redeemed: 0n, expired: 0n };
}

/** Makes the given lots (or all of an account's) due for expiry now. */
export async function lapseLots(pool: Pool, lotIds: string[]): Promise<void> {
  await pool.query(
    `UPDATE lots SET expires_at = now() - interval '1 second' WHERE lot_id = ANY($1::uuid[])`,
    [lotIds],
  );
}

/** Makes a held reservation due for the hold expiry now. */
export async function lapseReservation(pool: Pool, reservationId: string): Promise<void> {
  await pool.query(
    `UPDATE reservations SET expires_at = now() - interval '1 second' WHERE reservation_id = $1`,
    [reservationId],
  );
}

/** The decoded events of one type in the outbox, in commit order. */
export async function eventsOf<K extends keyof typeof PointsEvents>(
  pool: Pool,
  kind: K,
): Promise<ReturnType<(typeof PointsEvents)[K]['codec']['decode']>[]> {
  const type = PointsEvents[kind];
  const { rows } = await pool.query<{ payload: Buffer }>(
    'SELECT payload FROM outbox WHERE event_type = $1 ORDER BY id',
    [type.type],
  );
  return rows.map(
    (r) => type.codec.decode(r.payload) as ReturnType<(typeof PointsEvents)[K]['codec']['decode']>,
  );
}
