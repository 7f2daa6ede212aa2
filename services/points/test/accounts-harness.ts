// Set-up of the accounts suites: the points service (in-process) on its own database, tokens from a
// TestIssuer, gRPC clients per tenancy, and a second AccountsService on the same database standing
// for another replica, so a test can run the expiry passes itself (and twice at once).
import type { Pool } from 'pg';
import { createLogger, enqueue, Mutations, Outbox } from '@citybase/platform';
import { PromiseClient, ServiceHarness, startServiceHarness } from '@citybase/platform/testing';
import { PointsServiceService } from '@citybase/contracts/citybase/points/v1/points';
import { PointsEvents } from '@citybase/contracts/events';
import { AccountsService } from '../src/accounts/accounts.service';
import { BudgetsService } from '../src/budgets/budgets.service';
import { pointsConfig } from '../src/config';
import { definition } from '../src/definition';
import { ProgrammesService } from '../src/programmes/programmes.service';
export { errorCode, errorField, grpcError } from '@citybase/platform/testing';

export type PointsClient = PromiseClient<typeof PointsServiceService>;
export type AccountsHarness = ServiceHarness<typeof PointsServiceService>;

/** What a back office (issuance) and a checkout (reservations) may do. */
export const POINTS_SCOPES = ['points:read', 'points:write', 'points:issue'];

/** The service with its jobs slowed to once per 10 minutes: tests run the passes themselves. */
export async function startAccountsHarness(env: Record<string, string> = {}): Promise<AccountsHarness> {
  return startServiceHarness({
    definition,
    grpcService: PointsServiceService,
    label: 'points-accounts',
    env: () => ({
      DATABASE_POOL_SIZE: '20',
      POINTS_HOLD_EXPIRY_INTERVAL_MS: '600000',
      POINTS_LOT_EXPIRY_INTERVAL_MS: '600000',
      ...env,
    }),
    poolSize: 20,
    scopes: POINTS_SCOPES,
  });
}

/** Another replica's AccountsService on the service's database: runs the expiry passes on demand. */
export function replica(pool: Pool): AccountsService {
  const logger = createLogger('points-test', 'warn');
  const outbox: Outbox = {
    enqueue: (client, type, payload, opts) =>
      enqueue(client, { city: 'test-city', service: 'points' }, type, payload, opts),
  };
  const config = pointsConfig.parse({ CITY_ID: 'test-city', DATABASE_URL: 'postgres://unused/unused' });
  return new AccountsService(
    pool as never,
    outbox,
    logger,
    config,
    new Mutations(pool as never, outbox, logger),
    new BudgetsService(),
    new ProgrammesService(),
  );
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
