import { toTimestamp } from '@citybase/platform';
import { uniqueName } from '@citybase/platform/testing';
import {
  eventsOf,
  PointsHarness,
  POINTS_SCOPES,
  replica,
  seedBudget,
  seedProgramme,
  startAccountsHarness,
} from './accounts-harness';
import { checkPointsInvariants } from '../src/invariants';

const DAY_MS = 86_400_000;

describe('points expiry notices (in-process, real PostgreSQL)', () => {
  let h: PointsHarness;
  let jobs: ReturnType<typeof replica>;

  beforeAll(async () => {
    h = await startAccountsHarness();
    jobs = replica(h);
  }, 120_000);
  afterAll(async () => {
    await h?.stop();
  });
  afterEach(async () => {
    expect(await checkPointsInvariants(h.pool)).toEqual([]);
  });

  /** An operator with a programme (notice days given) and a budget, and its client. */
  const operator = async (expiryNoticeDays: number) => {
    const op = uniqueName('op');
    await seedProgramme(h, op, { expiryNoticeDays });
    await seedBudget(h, op, 1_000_000n);
    const client = h.clientOf({ operators: [op] }, POINTS_SCOPES);
    const tenancy = { operatorId: op, projectId: '', merchantId: '' };
    const issue = async (holderId: string, points: bigint, days: number) =>
      (
        await client.issuePoints({
          requestId: uniqueName('issue'),
          tenancy,
          holderId,
          points,
          reason: 'GOODWILL',
          expiresAt: toTimestamp(new Date(Date.now() + days * DAY_MS)),
        })
      ).lotId;
    const reserve = async (holderId: string, points: bigint) =>
      (
        await client.reservePoints({
          requestId: uniqueName('reserve'),
          tenancy,
          holderId,
          points,
          reference: 'checkout',
          ttlSeconds: 0,
          redeemedAt: undefined,
        })
      ).reservation?.reservationId ?? '';
    return { op, client, tenancy, issue, reserve };
  };
  const noticesOf = async (holderId: string) =>
    (await eventsOf(h.pool, 'PointsExpiring'))
      .filter((e) => e.holderId === holderId)
      .map((e) => [e.lotId, e.points])
      .sort();

  it('notices each lot once, notice days before its expiry, also with passes at once; GetBalance answers expiring_soon', async () => {
    const o = await operator(7);
    const u = uniqueName('u');
    const soonest = await o.issue(u, 20n, 2); // fully held below: nothing to notice yet
    const a = await o.issue(u, 60n, 3);
    const b = await o.issue(u, 40n, 5);
    await o.issue(u, 100n, 20); // outside the 7 days
    const held = await o.reserve(u, 30n); // 20 of the soonest lot, 10 of a
    expect((await o.client.getBalance({ tenancy: o.tenancy, holderId: u })).expiringSoon).toBe(90n); // 50 + 40
    // three passes at once, then another: each due lot noticed once, with its free units
    await Promise.all([
      jobs.noticeExpiringLots(500),
      jobs.noticeExpiringLots(500),
      jobs.noticeExpiringLots(500),
    ]);
    await jobs.noticeExpiringLots(500);
    expect(await noticesOf(u)).toEqual(
      [
        [a, 50n],
        [b, 40n],
      ].sort(),
    );
    // the held lot's units come free again: its notice follows at the next pass, once
    await o.client.cancelReservation({
      requestId: uniqueName('cancel'),
      tenancy: o.tenancy,
      reservationId: held,
    });
    await Promise.all([jobs.noticeExpiringLots(500), jobs.noticeExpiringLots(500)]);
    await jobs.noticeExpiringLots(500);
    expect(await noticesOf(u)).toEqual(
      [
        [a, 50n],
        [b, 40n],
        [soonest, 20n],
      ].sort(),
    );
    const { rows } = await h.pool.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM lots WHERE lot_id = ANY($1::uuid[]) AND expiry_noticed_at IS NOT NULL',
      [[a, b, soonest]],
    );
    expect(rows[0]?.n).toBe(3);
    expect((await o.client.getBalance({ tenancy: o.tenancy, holderId: u })).expiringSoon).toBe(120n);
  });

  it('a programme with notice days 0 sends no notice and answers expiring_soon 0', async () => {
    const o = await operator(0);
    const u = uniqueName('u');
    await o.issue(u, 10n, 1);
    await jobs.noticeExpiringLots(500);
    expect(await noticesOf(u)).toEqual([]);
    expect((await o.client.getBalance({ tenancy: o.tenancy, holderId: u })).expiringSoon).toBe(0n);
  });
});
