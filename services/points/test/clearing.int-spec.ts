import { status } from '@grpc/grpc-js';
import { cityPeriod } from '@citybase/platform';
import { uniqueName } from '@citybase/platform/testing';
import { Reservation, ReservationStatus } from '@citybase/contracts/citybase/points/v1/points';
import {
  errorCode,
  eventsOf,
  grpcError,
  PointsClient,
  PointsHarness,
  POINTS_SCOPES,
  seedBudget,
  seedProgramme,
  startAccountsHarness,
} from './accounts-harness';
import { errorField, OPERATOR_SCOPES, rowCounts } from './points-harness';
import { checkPointsInvariants } from '../src/invariants';

/** A TenancyRef as requests carry it. */
const at = (operatorId: string, projectId = '', merchantId = '') => ({ operatorId, projectId, merchantId });

async function answered(reply: Promise<{ reservation?: Reservation }>): Promise<Reservation> {
  const { reservation } = await reply;
  if (!reservation) throw new Error('the answer has no reservation');
  return reservation;
}

/**
 * Clearing on confirmation (docs/points.md "Liability and clearing"): where points are spent
 * (redeemed_at), and one obligation per issuer (operator or project) other than that place.
 */
describe('points clearing: redeemed_at and clearing obligations (in-process, real PostgreSQL)', () => {
  let h: PointsHarness;
  let op: string; // the programme's operator, issuer at operator level
  let pa: string; // a project of op that issues too
  let pb: string; // another project of op, a redeemer
  let other: string; // another operator, a redeemer
  let client: PointsClient; // the programme's operator-wide client

  const issue = (holderId: string, points: bigint, projectId = '') =>
    client.issuePoints({
      requestId: uniqueName('issue'),
      tenancy: at(op, projectId),
      holderId,
      points,
      reason: 'GOODWILL',
      expiresAt: undefined,
    });
  const reserve = (
    c: PointsClient,
    holderId: string,
    points: bigint,
    tenancy = at(op),
    redeemedAt: ReturnType<typeof at> | undefined = undefined,
  ) =>
    answered(
      c.reservePoints({
        requestId: uniqueName('reserve'),
        tenancy,
        holderId,
        points,
        reference: 'checkout',
        ttlSeconds: 0,
        redeemedAt,
      }),
    );
  const confirm = (reservationId: string, requestId = uniqueName('confirm')) =>
    answered(client.confirmReservation({ requestId, tenancy: at(op), reservationId }));
  const obligationsOf = async (reservationId: string) =>
    (
      await h.pool.query<{
        debtor: string;
        creditor: string;
        points: bigint;
        amount_minor: bigint;
        currency: string;
      }>(
        `SELECT debtor_operator_id || '/' || debtor_project_id AS debtor,
                creditor_operator_id || '/' || creditor_project_id || '/' || creditor_merchant_id AS creditor,
                points, amount_minor, currency
           FROM clearing_obligations WHERE reservation_id = $1 ORDER BY debtor`,
        [reservationId],
      )
    ).rows.map((r) => [r.debtor, r.creditor, r.points, r.amount_minor, r.currency]);
  const obligationEvents = async (reservationId: string) =>
    (await eventsOf(h.pool, 'ClearingObligationCreated'))
      .filter((e) => e.reservationId === reservationId)
      .map((e) => [
        `${e.debtor?.operatorId}/${e.debtor?.projectId}`,
        `${e.creditor?.operatorId}/${e.creditor?.projectId}/${e.creditor?.merchantId}`,
        e.points,
        e.value?.amountMinor,
        e.value?.currency,
      ])
      .sort((a, b) => String(a[0]).localeCompare(String(b[0])));

  beforeAll(async () => {
    h = await startAccountsHarness();
    op = uniqueName('op');
    pa = uniqueName('pa');
    pb = uniqueName('pb');
    other = uniqueName('other');
    client = h.clientOf({ operators: [op] }, [...POINTS_SCOPES, ...OPERATOR_SCOPES]);
    // 2 fen per point, so values differ from points
    await seedProgramme(h, op, { pointValue: { currency: 'CNY', amountMinor: 2n } });
    await seedBudget(h, op, 10_000_000n);
    await client.setBudget({
      requestId: uniqueName('budget'),
      tenancy: at(op, pa),
      period: cityPeriod(new Date()),
      allotted: 1_000_000n,
    });
  }, 120_000);

  afterAll(async () => {
    await h?.stop();
  });

  afterEach(async () => {
    expect(await checkPointsInvariants(h.pool)).toEqual([]);
  });

  it('a redemption where the points were issued (same operator and project) creates no obligation', async () => {
    const u = uniqueName('u');
    await issue(u, 40n);
    const r = await reserve(client, u, 30n, at(op, '', 'shop-1'));
    expect(r.redeemedAt).toEqual(at(op, '', 'shop-1'));
    await confirm(r.reservationId);
    expect(await obligationsOf(r.reservationId)).toEqual([]);
    expect(await obligationEvents(r.reservationId)).toEqual([]);
    const [redeemed] = (await eventsOf(h.pool, 'PointsRedeemed')).filter(
      (e) => e.reservationId === r.reservationId,
    );
    expect(redeemed?.redeemedAt).toEqual(at(op, '', 'shop-1'));
    expect(redeemed?.lots.map((l) => [l.issuer?.operatorId, l.points, l.value?.amountMinor])).toEqual([
      [op, 30n, 60n],
    ]);
  });

  it('a redemption at another project of the operator: the issuing project owes it', async () => {
    const u = uniqueName('u');
    await issue(u, 25n, pa);
    // the request's tenancy is where the points are spent when redeemed_at is not given
    const r = await reserve(client, u, 25n, at(op, pb, 'shop-b'));
    expect(r.redeemedAt).toEqual(at(op, pb, 'shop-b'));
    await confirm(r.reservationId);
    expect(await obligationsOf(r.reservationId)).toEqual([
      [`${op}/${pa}`, `${op}/${pb}/shop-b`, 25n, 50n, 'CNY'],
    ]);
    expect(await obligationEvents(r.reservationId)).toEqual(await obligationsOf(r.reservationId));
  });

  it("a redemption at another operator's merchant: one obligation per issuer, once, with the event", async () => {
    const u = uniqueName('u');
    await issue(u, 30n); // issued first, so it expires first
    await issue(u, 20n, pa);
    const r = await reserve(client, u, 45n, at(op), at(other, 'mall', 'shop-x'));
    expect(r.tenancy).toEqual(at(op));
    expect(r.redeemedAt).toEqual(at(other, 'mall', 'shop-x'));
    const confirmed = await confirm(r.reservationId, 'confirm-' + r.reservationId);
    expect(confirmed.status).toBe(ReservationStatus.RESERVATION_STATUS_CONFIRMED);
    const got = await obligationsOf(r.reservationId);
    // earliest expiry first: the 30 of op's own lot, then 15 of pa's; each at 2 fen
    expect(got).toEqual([
      [`${op}/`, `${other}/mall/shop-x`, 30n, 60n, 'CNY'],
      [`${op}/${pa}`, `${other}/mall/shop-x`, 15n, 30n, 'CNY'],
    ]);
    expect(await obligationEvents(r.reservationId)).toEqual(got);
    // a repeated request, and a new request of the same confirmation: nothing more
    await confirm(r.reservationId, 'confirm-' + r.reservationId);
    await confirm(r.reservationId);
    expect(await obligationsOf(r.reservationId)).toEqual(got);
    expect(await obligationEvents(r.reservationId)).toEqual(got);
    const [redeemed] = (await eventsOf(h.pool, 'PointsRedeemed')).filter(
      (e) => e.reservationId === r.reservationId,
    );
    expect(redeemed?.redeemedAt).toEqual(at(other, 'mall', 'shop-x'));
    expect(redeemed?.value).toEqual({ currency: 'CNY', amountMinor: 90n });
  });

  it('a cancelled reservation creates no obligation', async () => {
    const u = uniqueName('u');
    await issue(u, 10n);
    const r = await reserve(client, u, 10n, at(op), at(other));
    await client.cancelReservation({
      requestId: uniqueName('c'),
      tenancy: at(op),
      reservationId: r.reservationId,
    });
    expect(await obligationsOf(r.reservationId)).toEqual([]);
  });

  it('validates redeemed_at and refuses a place outside a project client’s tenancy, writing nothing', async () => {
    const u = uniqueName('u');
    await issue(u, 10n, pa);
    const tables = ['reservations', 'clearing_obligations', 'points_entries'];
    const before = await rowCounts(h.pool, tables);
    const missing = await grpcError(reserve(client, u, 1n, at(op), at('', 'mall', '')));
    expect(missing.code).toBe(status.INVALID_ARGUMENT);
    expect(errorField(missing)).toBe('redeemed_at.operator_id');
    const bad = await grpcError(reserve(client, u, 1n, at(op), at(other, 'no spaces')));
    expect(bad.code).toBe(status.INVALID_ARGUMENT);
    expect(errorField(bad)).toBe('redeemed_at.project_id');
    // a client of project pa spends the programme's points only at its own project
    const projectClient = h.clientOf({ projects: [pa] }, POINTS_SCOPES);
    const denied = await grpcError(reserve(projectClient, u, 1n, at(op, pa), at(other, 'mall')));
    expect(denied.code).toBe(status.PERMISSION_DENIED);
    expect(errorCode(denied)).toBe('TENANCY_FORBIDDEN');
    // another operator's client cannot spend the programme's points, even at its own merchant
    const foreign = h.clientOf({ operators: [other] }, POINTS_SCOPES);
    const foreignDenied = await grpcError(reserve(foreign, u, 1n, at(op), at(other)));
    expect(foreignDenied.code).toBe(status.PERMISSION_DENIED);
    expect(await rowCounts(h.pool, tables)).toEqual(before);
    // all empty is "not given": the request's tenancy
    const own = await reserve(projectClient, u, 1n, at(op, pa, 'kiosk'), at(''));
    expect(own.redeemedAt).toEqual(at(op, pa, 'kiosk'));
  });

  it('240 concurrent redemptions across three places: obligations equal the lots of other issuers and net to zero', async () => {
    const places = [at(op, '', 'home'), at(op, pb, 'shop-b'), at(other, 'mall', 'shop-x')];
    const holders = Array.from({ length: 24 }, () => uniqueName('u'));
    for (const u of holders) {
      await issue(u, 100n);
      await issue(u, 100n, pa);
    }
    const outcomes = await Promise.allSettled(
      Array.from({ length: 240 }, async (_, i) => {
        const u = holders[i % holders.length]!;
        const r = await reserve(client, u, BigInt(5 + (i % 11)), at(op), places[i % 3]);
        if (i % 7 === 0)
          await client.cancelReservation({
            requestId: uniqueName('c'),
            tenancy: at(op),
            reservationId: r.reservationId,
          });
        else await confirm(r.reservationId);
        return r.reservationId;
      }),
    );
    const failed = outcomes.filter((o) => o.status === 'rejected');
    // every holder has 200 points and spends at most 10 x 15 = 150: nothing is refused
    expect(failed).toEqual([]);
    // away from the issuers (pb, other) every confirmed point is owed; at (op, '') only pa's
    const { rows } = await h.pool.query<{ place: string; confirmed: string; owed: string }>(
      `SELECT r.redeemed_operator_id || '/' || r.redeemed_project_id AS place, sum(r.points)::text AS confirmed,
              coalesce(sum(o.points), 0)::text AS owed
         FROM reservations r
         LEFT JOIN (SELECT reservation_id, sum(points) AS points FROM clearing_obligations GROUP BY 1) o
           USING (reservation_id)
        WHERE r.holder_id = ANY($1) AND r.status = 2
        GROUP BY 1 ORDER BY 1`,
      [holders],
    );
    const byPlace = new Map(rows.map((r) => [r.place, r]));
    for (const place of [`${op}/${pb}`, `${other}/mall`])
      expect(byPlace.get(place)?.owed).toBe(byPlace.get(place)?.confirmed);
    const home = byPlace.get(`${op}/`)!;
    expect(BigInt(home.owed)).toBeLessThan(BigInt(home.confirmed));
    const events = (await eventsOf(h.pool, 'ClearingObligationCreated')).length;
    const { rows: all } = await h.pool.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM clearing_obligations',
    );
    expect(events).toBe(all[0]!.n);
  }, 120_000);
});
