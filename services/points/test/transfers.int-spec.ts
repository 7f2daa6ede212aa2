import { status } from '@grpc/grpc-js';
import { toTimestamp } from '@citybase/platform';
import { seededRandom, uniqueName } from '@citybase/platform/testing';
import { EntryKind, LotSource, Reservation } from '@citybase/contracts/citybase/points/v1/points';
import {
  budgetTotals,
  errorCode,
  errorField,
  eventsOf,
  grpcError,
  PointsClient,
  PointsHarness,
  POINTS_SCOPES,
  seedBudget,
  seedProgramme,
  startAccountsHarness,
} from './accounts-harness';
import { checkPointsInvariants } from '../src/invariants';

const DAY_MS = 86_400_000;

describe('points transfers (in-process, real PostgreSQL)', () => {
  let h: PointsHarness;
  let op: string;
  let client: PointsClient;

  const tenancy = () => ({ operatorId: op, projectId: '', merchantId: '' });
  const holder = () => uniqueName('u');
  const issue = (holderId: string, points: bigint, expiresInDays = 365) =>
    client.issuePoints({
      requestId: uniqueName('issue'),
      tenancy: tenancy(),
      holderId,
      points,
      reason: 'GOODWILL',
      expiresAt: toTimestamp(new Date(Date.now() + expiresInDays * DAY_MS)),
    });
  const transfer = (from: string, to: string, points: bigint, over: Record<string, unknown> = {}) =>
    client.transferPoints({
      requestId: uniqueName('transfer'),
      tenancy: tenancy(),
      fromHolderId: from,
      toHolderId: to,
      points,
      reason: 'GIFT',
      ...over,
    });
  const balance = (holderId: string) => client.getBalance({ tenancy: tenancy(), holderId });
  const lotsOf = async (holderId: string) =>
    (await client.listLots({ tenancy: tenancy(), holderId, includeEmpty: true, page: undefined })).lots;
  const counts = async () =>
    (
      await h.pool.query<{ entries: number; lots: number }>(
        'SELECT (SELECT count(*)::int FROM points_entries) AS entries, (SELECT count(*)::int FROM lots) AS lots',
      )
    ).rows[0];

  beforeAll(async () => {
    h = await startAccountsHarness();
    op = uniqueName('op');
    client = h.clientOf({ operators: [op] }, POINTS_SCOPES);
    await seedProgramme(h, op);
    await seedBudget(h, op, 10_000_000n);
  }, 120_000);
  afterAll(async () => {
    await h?.stop();
  });
  afterEach(async () => {
    expect(await checkPointsInvariants(h.pool)).toEqual([]);
  });

  it('moves the earliest-expiring units into TRANSFER_IN lots that keep issuer, budget and expiry', async () => {
    const [a, b] = [holder(), holder()];
    const late = await issue(a, 50n, 20);
    const early = await issue(a, 30n, 10);
    const issuedBefore = (await budgetTotals(h.pool, op)).issued;
    const requestId = uniqueName('transfer');
    const done = await transfer(a, b, 40n, { requestId });
    expect(done.fromAvailable).toBe(40n);
    // the same request again answers the same transfer and moves nothing more
    expect(await transfer(a, b, 40n, { requestId })).toEqual(done);
    // the same request id with another body is refused, moving nothing
    const reused = await grpcError(transfer(a, b, 41n, { requestId }));
    expect([reused.code, errorCode(reused)]).toEqual([status.ALREADY_EXISTS, 'REQUEST_ID_REUSED']);
    expect((await balance(a)).available).toBe(40n);
    expect((await balance(b)).available).toBe(40n);
    // a transfer issues nothing: the budget's issued is unchanged
    expect((await budgetTotals(h.pool, op)).issued).toBe(issuedBefore);

    const sourceLots = await lotsOf(a);
    expect(sourceLots.map((l) => [l.lotId, l.remaining])).toEqual([
      [early.lotId, 0n],
      [late.lotId, 40n],
    ]);
    const received = await lotsOf(b);
    expect(received.map((l) => [l.amount, l.source, l.sourceRef, l.issuer?.operatorId])).toEqual([
      [30n, LotSource.LOT_SOURCE_TRANSFER, done.transferId, op],
      [10n, LotSource.LOT_SOURCE_TRANSFER, done.transferId, op],
    ]);
    expect(received.map((l) => l.expiresAt)).toEqual(sourceLots.map((l) => l.expiresAt));
    const { rows } = await h.pool.query<{ same_budget: boolean }>(
      `SELECT t.budget_id = s.budget_id AS same_budget FROM lots t JOIN lots s ON s.lot_id = t.from_lot_id
        WHERE t.source_ref = $1`,
      [done.transferId],
    );
    expect(rows.map((r) => r.same_budget)).toEqual([true, true]);

    const history = async (u: string) =>
      (await client.listHistory({ tenancy: tenancy(), holderId: u, memberId: '', page: undefined }))
        .entries[0];
    expect(await history(a)).toMatchObject({
      kind: EntryKind.ENTRY_KIND_TRANSFER_OUT,
      availableDelta: -40n,
      reason: 'GIFT',
      reference: done.transferId,
    });
    expect(await history(b)).toMatchObject({
      kind: EntryKind.ENTRY_KIND_TRANSFER_IN,
      availableDelta: 40n,
      reference: done.transferId,
    });
    const events = (await eventsOf(h.pool, 'PointsTransferred')).filter(
      (e) => e.transferId === done.transferId,
    );
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ fromHolderId: a, toHolderId: b, points: 40n, reason: 'GIFT' });
    expect(
      events[0]?.lots.map((l) => [l.lotId, l.points, l.value?.amountMinor, l.issuer?.operatorId]),
    ).toEqual([
      [early.lotId, 30n, 30n, op],
      [late.lotId, 10n, 10n, op],
    ]);

    // received points are spendable and can be passed on; a round trip keeps the total
    await transfer(b, a, 35n);
    expect([(await balance(a)).available, (await balance(b)).available]).toEqual([75n, 5n]);
  });

  it('refuses what the available, unheld points do not cover (POINTS_INSUFFICIENT), writing nothing', async () => {
    const [a, b] = [holder(), holder()];
    await issue(a, 10n);
    await client.reservePoints({
      requestId: uniqueName('reserve'),
      tenancy: tenancy(),
      holderId: a,
      points: 6n,
      reference: 'checkout',
      ttlSeconds: 0,
      redeemedAt: undefined,
    });
    const before = await counts();
    for (const [from, points] of [
      [a, 5n],
      [holder(), 1n],
    ] as const) {
      const err = await grpcError(transfer(from, b, points));
      expect([err.code, errorCode(err)]).toEqual([status.FAILED_PRECONDITION, 'POINTS_INSUFFICIENT']);
    }
    expect(await counts()).toEqual(before);
    const { rows } = await h.pool.query('SELECT 1 FROM accounts WHERE holder_id = $1', [b]);
    expect(rows).toHaveLength(0);
    expect(await transfer(a, b, 4n)).toMatchObject({ fromAvailable: 0n });
  });

  it('validates requests naming the field, and refuses other tenancies, writing nothing', async () => {
    const [a, b] = [holder(), holder()];
    await issue(a, 10n);
    const before = await counts();
    // thunks: a call made only when its turn comes, so no rejection waits unhandled
    const cases: [() => Promise<unknown>, string][] = [
      [() => transfer(a, b, 1n, { requestId: '' }), 'request_id'],
      [
        () => transfer(a, b, 1n, { tenancy: { operatorId: '', projectId: '', merchantId: '' } }),
        'tenancy.operator_id',
      ],
      [() => transfer('', b, 1n), 'from_holder_id'],
      [() => transfer(a, '', 1n), 'to_holder_id'],
      [() => transfer(a, 'bad holder', 1n), 'to_holder_id'],
      [() => transfer(a, a, 1n), 'to_holder_id'],
      [() => transfer(a, b, 0n), 'points'],
      [() => transfer(a, b, -5n), 'points'],
      [() => transfer(a, b, 1_000_000_000_001n), 'points'],
      [() => transfer(a, b, 1n, { reason: '' }), 'reason'],
      [() => transfer(a, b, 1n, { reason: 'gift' }), 'reason'],
      [() => transfer(a, b, 1n, { reason: 'X'.repeat(41) }), 'reason'],
    ];
    for (const [call, field] of cases) {
      const err = await grpcError(call());
      expect([err.code, errorField(err), field]).toEqual([status.INVALID_ARGUMENT, field, field]);
    }
    const other = h.clientOf({ operators: [uniqueName('op')] }, POINTS_SCOPES);
    const denied = await grpcError(
      other.transferPoints({
        requestId: uniqueName('t'),
        tenancy: tenancy(),
        fromHolderId: a,
        toHolderId: b,
        points: 1n,
        reason: 'GIFT',
      }),
    );
    expect([denied.code, errorCode(denied)]).toEqual([status.PERMISSION_DENIED, 'TENANCY_FORBIDDEN']);
    expect(await counts()).toEqual(before);
  });

  it('240 parallel calls: 180 transfers in opposite pairs, reservations made and ended, keep every invariant and the total', async () => {
    const random = seededRandom(20261207);
    const holders = Array.from({ length: 12 }, holder);
    await Promise.all(holders.map((u, i) => issue(u, 300n, 30 + i)));
    await Promise.all(holders.map((u, i) => issue(u, 100n, 10 + i)));
    const issuedBefore = (await budgetTotals(h.pool, op)).issued;
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)] as T;
    const amount = (max: number) => BigInt(1 + Math.floor(random() * max));
    const outcomes = new Map<string, number>();
    const count = (k: string) => outcomes.set(k, (outcomes.get(k) ?? 0) + 1);
    const attempt = async (what: string, call: () => Promise<unknown>): Promise<void> => {
      try {
        await call();
        count(what);
      } catch (err) {
        count(`refused ${errorCode(err as never) ?? String(err)}`);
      }
    };
    const reserve = (holderId: string, points: bigint) =>
      client.reservePoints({
        requestId: uniqueName('reserve'),
        tenancy: tenancy(),
        holderId,
        points,
        reference: 'checkout',
        ttlSeconds: 0,
        redeemedAt: undefined,
      });
    // reservations to end during the burst
    const open = await Promise.all(
      Array.from(
        { length: 30 },
        async () => (await reserve(pick(holders), amount(20))).reservation as Reservation,
      ),
    );
    const calls: (() => Promise<void>)[] = [];
    for (let i = 0; i < 90; i++) {
      // two opposite transfers between the same two holders at once: locked in id order, no deadlock
      const from = pick(holders);
      const to = pick(holders.filter((u) => u !== from));
      const [there, back] = [amount(60), amount(60)];
      calls.push(() => attempt('transfer', () => transfer(from, to, there)));
      calls.push(() => attempt('transfer', () => transfer(to, from, back)));
    }
    for (const r of open) {
      const end = random() < 0.5 ? client.confirmReservation : client.cancelReservation;
      calls.push(() =>
        attempt('end', () =>
          end.call(client, {
            requestId: uniqueName('end'),
            tenancy: tenancy(),
            reservationId: r.reservationId,
          }),
        ),
      );
      const u = pick(holders);
      const points = amount(40);
      calls.push(() => attempt('reserve', () => reserve(u, points)));
    }
    expect(calls).toHaveLength(240);
    await Promise.all(calls.map((c) => c()));
    const unexpected = [...outcomes.keys()].filter(
      (k) => k.startsWith('refused') && !/POINTS_INSUFFICIENT|RESERVATION_(CONFIRMED|CANCELLED)/.test(k),
    );
    // an unexpected refusal shows the service's error log lines with it
    const errors = h.svc
      .output()
      .split('\n')
      .filter((l) => l.includes('"level":"error"'))
      .map((l) => l.slice(0, 400));
    expect({ unexpected, errors: unexpected.length > 0 ? errors.slice(0, 5) : [] }).toEqual({
      unexpected: [],
      errors: [],
    });
    expect(outcomes.get('transfer') ?? 0).toBeGreaterThan(100);
    expect(outcomes.get('end')).toBe(30);
    expect(await checkPointsInvariants(h.pool)).toEqual([]);
    // nothing was created or lost: what the lots hold plus what confirmations spent is what was issued
    const { rows } = await h.pool.query<{ remaining: bigint; spent: bigint }>(
      `SELECT (SELECT coalesce(sum(l.remaining), 0)::bigint FROM lots l JOIN accounts a USING (account_id)
                WHERE a.holder_id = ANY($1)) AS remaining,
              (SELECT coalesce(sum(points), 0)::bigint FROM reservations WHERE holder_id = ANY($1) AND status = 2) AS spent`,
      [holders],
    );
    expect((rows[0]?.remaining ?? 0n) + (rows[0]?.spent ?? 0n)).toBe(4800n);
    expect((await budgetTotals(h.pool, op)).issued).toBe(issuedBefore);
  }, 120_000);
});
