import { randomUUID } from 'node:crypto';
import { status } from '@grpc/grpc-js';
import { toTimestamp } from '@citybase/platform';
import { seededRandom, uniqueName } from '@citybase/platform/testing';
import { EntryKind, Reservation, ReservationStatus } from '@citybase/contracts/citybase/points/v1/points';
import {
  errorCode,
  eventsOf,
  grpcError,
  lapseLots,
  lapseReservation,
  PointsClient,
  PointsHarness,
  POINTS_SCOPES,
  budgetTotals,
  replica,
  seedBudget,
  seedProgramme,
  startAccountsHarness,
} from './accounts-harness';
import { checkPointsInvariants } from '../src/invariants';

const S = ReservationStatus;

/** The reservation of an answer (every reservation RPC answers one). */
async function answered(reply: Promise<{ reservation?: Reservation }>): Promise<Reservation> {
  const { reservation } = await reply;
  if (!reservation) throw new Error('the answer has no reservation');
  return reservation;
}

describe('points accounts: issuance, balance, reservations, expiry (in-process, real PostgreSQL)', () => {
  let h: PointsHarness;
  let op: string;
  let backOffice: PointsClient;
  let checkout: PointsClient;
  let jobs: ReturnType<typeof replica>;

  const tenancy = () => ({ operatorId: op, projectId: '', merchantId: '' });
  const holder = () => uniqueName('u');
  const issue = (holderId: string, points: bigint, over: Record<string, unknown> = {}) =>
    backOffice.issuePoints({
      requestId: uniqueName('issue'),
      tenancy: tenancy(),
      holderId,
      points,
      reason: 'GOODWILL',
      expiresAt: undefined,
      ...over,
    });
  const reserve = (holderId: string, points: bigint, ttlSeconds = 0) =>
    answered(
      checkout.reservePoints({
        requestId: uniqueName('reserve'),
        tenancy: tenancy(),
        holderId,
        points,
        reference: 'checkout-1',
        ttlSeconds,
        redeemedAt: undefined,
      }),
    );
  const confirm = (reservationId: string, requestId = uniqueName('confirm')) =>
    answered(checkout.confirmReservation({ requestId, tenancy: tenancy(), reservationId }));
  const cancel = (reservationId: string, requestId = uniqueName('cancel')) =>
    answered(checkout.cancelReservation({ requestId, tenancy: tenancy(), reservationId }));
  const getReservation = (reservationId: string) =>
    answered(checkout.getReservation({ tenancy: tenancy(), reservationId }));
  const balance = (holderId: string) => backOffice.getBalance({ tenancy: tenancy(), holderId });
  const invariantsHold = async () => expect(await checkPointsInvariants(h.pool)).toEqual([]);

  beforeAll(async () => {
    h = await startAccountsHarness();
    op = uniqueName('op');
    backOffice = h.clientOf({ operators: [op] }, POINTS_SCOPES);
    checkout = h.clientOf({ operators: [op] }, POINTS_SCOPES);
    jobs = replica(h);
    await seedProgramme(h, op);
    await seedBudget(h, op, 1_000_000n);
  }, 120_000);

  afterAll(async () => {
    await h?.stop();
  });

  afterEach(async () => {
    await invariantsHold();
  });

  it('issues an available lot charged to a budget, derives the balance, and lists lots and history', async () => {
    const u = holder();
    const { lotId, available } = await issue(u, 100n);
    expect(available).toBe(100n);
    expect(await balance(u)).toMatchObject({
      available: 100n,
      reserved: 0n,
      pending: 0n,
      debt: 0n,
      tier: '',
    });
    const { lots } = await backOffice.listLots({
      tenancy: tenancy(),
      holderId: u,
      includeEmpty: false,
      page: undefined,
    });
    expect(lots.map((l) => [l.lotId, l.amount, l.remaining, l.held])).toEqual([[lotId, 100n, 100n, 0n]]);
    const { entries } = await backOffice.listHistory({
      tenancy: tenancy(),
      holderId: u,
      memberId: '',
      page: undefined,
    });
    expect(entries.map((e) => [e.kind, e.availableDelta, e.reason])).toEqual([
      [EntryKind.ENTRY_KIND_ISSUED, 100n, 'GOODWILL'],
    ]);
    expect(entries[0]?.clientId ?? '').not.toBe('');
    const issued = (await eventsOf(h.pool, 'PointsIssued')).filter((e) => e.lotId === lotId);
    expect(issued).toHaveLength(1);
    expect(issued[0]?.value).toEqual({ currency: 'CNY', amountMinor: 100n });
    // an unknown holder has an empty balance, and reading it writes nothing
    expect((await balance(holder())).available).toBe(0n);
  });

  it('refuses an issuance without a reason code, writing nothing', async () => {
    const u = holder();
    const err = await grpcError(issue(u, 5n, { reason: '' }));
    expect(err.code).toBe(status.INVALID_ARGUMENT);
    const { rows } = await h.pool.query('SELECT 1 FROM accounts WHERE holder_id = $1', [u]);
    expect(rows).toHaveLength(0);
  });

  it('refuses an issuance beyond the budget (BUDGET_EXCEEDED) or without a programme, writing nothing', async () => {
    const small = uniqueName('op');
    await seedProgramme(h, small);
    await seedBudget(h, small, 25n);
    const client = h.clientOf({ operators: [small] }, POINTS_SCOPES);
    const t = { operatorId: small, projectId: '', merchantId: '' };
    const gift = (holderId: string) =>
      client.issuePoints({
        requestId: uniqueName('issue'),
        tenancy: t,
        holderId,
        points: 10n,
        reason: 'GOODWILL',
        expiresAt: undefined,
      });
    const u = holder();
    // 6 concurrent gifts of 10 against a budget of 25: two are issued, the rest refused
    const answers = await Promise.allSettled(Array.from({ length: 6 }, () => gift(u)));
    expect(answers.filter((a) => a.status === 'fulfilled')).toHaveLength(2);
    for (const a of answers)
      if (a.status === 'rejected') expect(errorCode(a.reason as never)).toBe('BUDGET_EXCEEDED');
    expect((await client.getBalance({ tenancy: t, holderId: u })).available).toBe(20n);
    expect((await budgetTotals(h.pool, small)).issued).toBe(20n);
    const none = uniqueName('op');
    const err = await grpcError(
      h.clientOf({ operators: [none] }, POINTS_SCOPES).issuePoints({
        requestId: uniqueName('issue'),
        tenancy: { operatorId: none, projectId: '', merchantId: '' },
        holderId: u,
        points: 1n,
        reason: 'GOODWILL',
        expiresAt: undefined,
      }),
    );
    expect(errorCode(err)).toBe('PROGRAMME_NOT_SET');
    const { rows } = await h.pool.query('SELECT 1 FROM accounts WHERE operator_id = $1', [none]);
    expect(rows).toHaveLength(0);
  });

  it('pages the history with the platform page tokens and refuses a forged one', async () => {
    const u = holder();
    for (let i = 0; i < 5; i++) await issue(u, 1n);
    const seen: string[] = [];
    let pageToken = '';
    do {
      const page = await backOffice.listHistory({
        tenancy: tenancy(),
        holderId: u,
        memberId: '',
        page: { pageSize: 2, pageToken },
      });
      seen.push(...page.entries.map((e) => e.entryId));
      pageToken = page.page?.nextPageToken ?? '';
    } while (pageToken);
    expect(new Set(seen).size).toBe(5);
    const first = await backOffice.listHistory({
      tenancy: tenancy(),
      holderId: u,
      memberId: '',
      page: { pageSize: 2, pageToken: '' },
    });
    const err = await grpcError(
      backOffice.listHistory({
        tenancy: tenancy(),
        holderId: u,
        memberId: '',
        page: { pageSize: 2, pageToken: `${first.page?.nextPageToken ?? ''}x` },
      }),
    );
    expect(err.code).toBe(status.INVALID_ARGUMENT);
  });

  it('reserves earliest expiry first, confirms (PointsRedeemed per lot), and answers a repeat unchanged', async () => {
    const u = holder();
    const late = await issue(u, 50n, { expiresAt: toTimestamp(new Date(Date.now() + 20 * 86_400_000)) });
    const early = await issue(u, 30n, { expiresAt: toTimestamp(new Date(Date.now() + 10 * 86_400_000)) });
    const reservation = await reserve(u, 40n);
    expect(reservation).toMatchObject({ status: S.RESERVATION_STATUS_HELD, points: 40n });
    expect(await balance(u)).toMatchObject({ available: 40n, reserved: 40n });
    const lots = (
      await backOffice.listLots({ tenancy: tenancy(), holderId: u, includeEmpty: false, page: undefined })
    ).lots;
    expect(lots.map((l) => [l.lotId, l.held])).toEqual([
      [early.lotId, 30n],
      [late.lotId, 10n],
    ]);
    const id = reservation.reservationId;
    const confirmed = await confirm(id);
    expect(confirmed.status).toBe(S.RESERVATION_STATUS_CONFIRMED);
    expect(await balance(u)).toMatchObject({ available: 40n, reserved: 0n });
    // a new request to confirm it again answers it unchanged; cancelling it is refused naming the state
    expect((await confirm(id)).status).toBe(S.RESERVATION_STATUS_CONFIRMED);
    expect(errorCode(await grpcError(cancel(id)))).toBe('RESERVATION_CONFIRMED');
    const redeemed = (await eventsOf(h.pool, 'PointsRedeemed')).filter((e) => e.reservationId === id);
    expect(redeemed).toHaveLength(1);
    expect(
      redeemed[0]?.lots.map((l) => [l.lotId, l.points, l.value?.amountMinor, l.issuer?.operatorId]),
    ).toEqual([
      [early.lotId, 30n, 30n, op],
      [late.lotId, 10n, 10n, op],
    ]);
    expect((await getReservation(id)).status).toBe(S.RESERVATION_STATUS_CONFIRMED);
  });

  it('refuses a reservation the available points do not cover, writing nothing (POINTS_INSUFFICIENT)', async () => {
    const u = holder();
    await issue(u, 10n);
    const before = await h.pool.query('SELECT count(*)::int AS n FROM points_entries');
    const err = await grpcError(reserve(u, 11n));
    expect([err.code, errorCode(err)]).toEqual([status.FAILED_PRECONDITION, 'POINTS_INSUFFICIENT']);
    const after = await h.pool.query('SELECT count(*)::int AS n FROM points_entries');
    expect(after.rows[0].n).toBe(before.rows[0].n);
    expect(await balance(u)).toMatchObject({ available: 10n, reserved: 0n });
  });

  it('cancels a held reservation: the points are available again, once', async () => {
    const u = holder();
    await issue(u, 10n);
    const id = (await reserve(u, 7n)).reservationId;
    const rid = uniqueName('cancel');
    expect((await cancel(id, rid)).status).toBe(S.RESERVATION_STATUS_CANCELLED);
    expect((await cancel(id, rid)).status).toBe(S.RESERVATION_STATUS_CANCELLED);
    expect((await cancel(id)).status).toBe(S.RESERVATION_STATUS_CANCELLED);
    expect(errorCode(await grpcError(confirm(id)))).toBe('RESERVATION_CANCELLED');
    expect(await balance(u)).toMatchObject({ available: 10n, reserved: 0n });
    const released = (await eventsOf(h.pool, 'PointsReservationReleased')).filter(
      (e) => e.reservationId === id,
    );
    expect(released.map((e) => e.status)).toEqual([S.RESERVATION_STATUS_CANCELLED]);
  });

  it('a confirmation past the deadline expires the reservation exactly once and fails RESERVATION_EXPIRED', async () => {
    const u = holder();
    await issue(u, 10n);
    const id = (await reserve(u, 4n)).reservationId;
    await lapseReservation(h.pool, id);
    const rid = uniqueName('confirm');
    const first = await grpcError(confirm(id, rid));
    expect([first.code, errorCode(first)]).toEqual([status.FAILED_PRECONDITION, 'RESERVATION_EXPIRED']);
    // the retry of the same request and a new one answer the same; the expiry was committed once
    expect(errorCode(await grpcError(confirm(id, rid)))).toBe('RESERVATION_EXPIRED');
    expect(errorCode(await grpcError(confirm(id)))).toBe('RESERVATION_EXPIRED');
    expect(errorCode(await grpcError(cancel(id)))).toBe('RESERVATION_EXPIRED');
    await jobs.expireDueReservations(100);
    const r = await getReservation(id);
    expect(r.status).toBe(S.RESERVATION_STATUS_EXPIRED);
    expect(await balance(u)).toMatchObject({ available: 10n, reserved: 0n });
    const released = (await eventsOf(h.pool, 'PointsReservationReleased')).filter(
      (e) => e.reservationId === id,
    );
    expect(released.map((e) => e.status)).toEqual([S.RESERVATION_STATUS_EXPIRED]);
  });

  it('the hold expiry job releases held reservations past their deadline, once', async () => {
    const u = holder();
    await issue(u, 10n);
    const id = (await reserve(u, 6n)).reservationId;
    await lapseReservation(h.pool, id);
    await Promise.all([jobs.expireDueReservations(100), jobs.expireDueReservations(100)]);
    expect((await getReservation(id)).status).toBe(S.RESERVATION_STATUS_EXPIRED);
    expect(await balance(u)).toMatchObject({ available: 10n, reserved: 0n });
    expect(errorCode(await grpcError(confirm(id)))).toBe('RESERVATION_EXPIRED');
  });

  it("answers another operator's reservation like a missing one (NOT_FOUND), and refuses its holders", async () => {
    const u = holder();
    await issue(u, 10n);
    const id = (await reserve(u, 1n)).reservationId;
    const other = uniqueName('op');
    const foreign = h.clientOf({ operators: [other] }, POINTS_SCOPES);
    const t = { operatorId: other, projectId: '', merchantId: '' };
    for (const call of [
      foreign.getReservation({ tenancy: t, reservationId: id }),
      foreign.confirmReservation({ requestId: uniqueName('c'), tenancy: t, reservationId: id }),
      foreign.cancelReservation({ requestId: uniqueName('c'), tenancy: t, reservationId: id }),
      foreign.getReservation({ tenancy: t, reservationId: randomUUID() }),
    ]) {
      expect(errorCode(await grpcError(call))).toBe('RESERVATION_NOT_FOUND');
    }
    const denied = await grpcError(foreign.getBalance({ tenancy: tenancy(), holderId: u }));
    expect(denied.code).toBe(status.PERMISSION_DENIED);
    expect((await getReservation(id)).status).toBe(S.RESERVATION_STATUS_HELD);
  });

  it('the history is append-only: PostgreSQL refuses to change or remove an entry', async () => {
    const u = holder();
    await issue(u, 3n);
    await expect(h.pool.query('UPDATE points_entries SET available_delta = 1000')).rejects.toThrow(
      /append-only/,
    );
    await expect(h.pool.query('DELETE FROM entry_lots')).rejects.toThrow(/append-only/);
    await expect(h.pool.query('TRUNCATE points_entries CASCADE')).rejects.toThrow(/append-only/);
  });

  it('checkPointsInvariants reports a lot that drifted from its history', async () => {
    const u = holder();
    const { lotId } = await issue(u, 9n);
    const client = await h.pool.connect();
    try {
      await client.query('BEGIN');
      await client.query('UPDATE lots SET remaining = remaining - 1 WHERE lot_id = $1', [lotId]);
      const found = await checkPointsInvariants(client);
      expect(found.some((f) => f.startsWith('lot differs from its history') && f.includes(lotId))).toBe(true);
    } finally {
      await client.query('ROLLBACK');
      client.release();
    }
  });

  describe('regressions of the anchors', () => {
    it('20 concurrent gifts do not multiply a balance (fuint#71)', async () => {
      const distinct = holder();
      await Promise.all(Array.from({ length: 20 }, () => issue(distinct, 10n)));
      expect((await balance(distinct)).available).toBe(200n);
      const same = holder();
      const requestId = uniqueName('gift');
      const answers = await Promise.all(Array.from({ length: 20 }, () => issue(same, 10n, { requestId })));
      expect(new Set(answers.map((a) => a.lotId)).size).toBe(1);
      expect((await balance(same)).available).toBe(10n);
      const { rows } = await h.pool.query(
        `SELECT count(*)::int AS n FROM lots JOIN accounts USING (account_id) WHERE holder_id = $1`,
        [same],
      );
      expect(rows[0].n).toBe(1);
    });

    it('hold then spend cannot go negative (DeepBot-API#10)', async () => {
      const u = holder();
      await issue(u, 100n);
      const held = (await reserve(u, 80n)).reservationId;
      // the held points are not spendable again, also by many concurrent attempts
      const attempts = await Promise.allSettled(Array.from({ length: 10 }, () => reserve(u, 30n)));
      expect(attempts.filter((a) => a.status === 'fulfilled')).toHaveLength(0);
      const [ok] = await Promise.all([confirm(held), reserve(u, 20n)]);
      expect(ok.status).toBe(S.RESERVATION_STATUS_CONFIRMED);
      expect(await balance(u)).toMatchObject({ available: 0n, reserved: 20n });
      expect(errorCode(await grpcError(reserve(u, 1n)))).toBe('POINTS_INSUFFICIENT');
    });

    it('expiry never deducts twice (FloCafe#78)', async () => {
      // two expiry passes at once over lots past their expiry
      const u = holder();
      const a = await issue(u, 30n);
      const b = await issue(u, 20n);
      await issue(u, 5n);
      await lapseLots(h.pool, [a.lotId, b.lotId]);
      await Promise.all([jobs.expireDueLots(100), jobs.expireDueLots(100), jobs.expireDueLots(100)]);
      await jobs.expireDueLots(100);
      expect(await balance(u)).toMatchObject({ available: 5n, reserved: 0n });
      const expired = (await eventsOf(h.pool, 'PointsExpired')).filter((e) => e.holderId === u);
      expect(expired.flatMap((e) => e.lots.map((l) => [l.lotId, l.points])).sort()).toEqual(
        [
          [a.lotId, 30n],
          [b.lotId, 20n],
        ].sort(),
      );

      // a confirmation racing the expiry of the lot it holds: the held units are spent, the rest
      // expires, nothing is taken twice
      const v = holder();
      const lot = await issue(v, 50n);
      const r1 = (await reserve(v, 20n)).reservationId;
      const r2 = (await reserve(v, 10n)).reservationId;
      await lapseLots(h.pool, [lot.lotId]);
      await Promise.all([confirm(r1), jobs.expireDueLots(100), jobs.expireDueLots(100), cancel(r2)]);
      await jobs.expireDueLots(100);
      const { rows } = await h.pool.query('SELECT remaining, held FROM lots WHERE lot_id = $1', [lot.lotId]);
      expect(rows[0]).toEqual({ remaining: 0n, held: 0n });
      const { rows: spent } = await h.pool.query<{ kind: number; units: string }>(
        `SELECT e.kind, sum(-el.remaining_delta)::text AS units FROM entry_lots el JOIN points_entries e USING (entry_id)
          WHERE el.lot_id = $1 AND el.remaining_delta <> 0 GROUP BY e.kind ORDER BY e.kind`,
        [lot.lotId],
      );
      // 20 spent by the confirmation; 30 expired (20 free by the job, 10 when r2 was cancelled)
      const totals = await budgetTotals(h.pool, op);
      expect(totals.redeemed).toBeGreaterThanOrEqual(20n);
      expect(spent).toEqual([
        { kind: EntryKind.ENTRY_KIND_CONFIRMED, units: '20' },
        { kind: EntryKind.ENTRY_KIND_EXPIRED, units: '30' },
      ]);
    });
  });

  it('200+ parallel mixed reserve/confirm/cancel/issue calls on a few accounts keep every invariant', async () => {
    const random = seededRandom(20261206);
    const holders = Array.from({ length: 4 }, holder);
    await Promise.all(holders.map((u) => issue(u, 200n)));
    const open: string[] = [];
    const pick = <T>(xs: T[]): T => xs[Math.floor(random() * xs.length)] as T;
    const outcomes = new Map<string, number>();
    const count = (k: string) => outcomes.set(k, (outcomes.get(k) ?? 0) + 1);
    const op1 = async (): Promise<void> => {
      const u = pick(holders);
      const x = random();
      try {
        if (x < 0.2) {
          await issue(u, BigInt(1 + Math.floor(random() * 30)));
          count('issue');
        } else if (x < 0.6 || open.length === 0) {
          const r = await reserve(u, BigInt(1 + Math.floor(random() * 40)));
          open.push(r.reservationId);
          count('reserve');
        } else {
          const id = pick(open);
          await (random() < 0.6 ? confirm(id) : cancel(id));
          count('end');
        }
      } catch (err) {
        count(`refused ${errorCode(err as never) ?? String(err)}`);
      }
    };
    await Promise.all(Array.from({ length: 240 }, op1));
    // some reservations end twice over, concurrently
    await Promise.all(
      open
        .slice(0, 20)
        .flatMap((id) => [confirm(id), cancel(id), confirm(id)].map((p) => p.catch(() => undefined))),
    );
    const unexpected = [...outcomes.keys()].filter(
      (k) => k.startsWith('refused') && !/POINTS_INSUFFICIENT|RESERVATION_(CONFIRMED|CANCELLED)/.test(k),
    );
    expect(unexpected).toEqual([]);
    expect(outcomes.get('reserve') ?? 0).toBeGreaterThan(20);
    await invariantsHold();
    for (const u of holders) expect((await balance(u)).available).toBeGreaterThanOrEqual(0n);
  }, 120_000);
});
