import { randomUUID } from 'node:crypto';
import { status } from '@grpc/grpc-js';
import { toTimestamp } from '@citybase/platform';
import { errorCode, grpcError, uniqueName } from '@citybase/platform/testing';
import type { IssuerPoints } from '@citybase/contracts/citybase/points/v1/events';
import { ShortfallPolicy } from '@citybase/contracts/citybase/points/v1/points';
import { AccountKind } from '@citybase/contracts/citybase/settlement/v1/settlement';
import { PointsEvents } from '@citybase/contracts/events';
import { checkLedgerInvariants } from '../src/ledger/invariants';
import {
  balancesOf,
  PointsClearingHarness,
  postingOf,
  startPointsClearingHarness,
  transactionsWithKey,
} from './points-clearing-harness';

const K = AccountKind;
const CNY = (amountMinor: bigint) => ({ currency: 'CNY', amountMinor });
const at = (operatorId: string, projectId = '', merchantId = '') => ({ operatorId, projectId, merchantId });
const lot = (issuer: ReturnType<typeof at>, points: bigint, value: bigint): IssuerPoints => ({
  lotId: randomUUID(),
  issuer,
  points,
  value: CNY(value),
});

/**
 * Points' liability and clearing in the ledger (docs/settlement-points.md): points' events
 * published onto the points topic as points' relay would, the exact postings, idempotency on
 * redelivery, the clearing cycle, and the ledger check after every test.
 */
describe('settlement points clearing (in-process service, Kafka, PostgreSQL; points faked on its topic)', () => {
  let h: PointsClearingHarness;

  beforeAll(async () => {
    h = await startPointsClearingHarness();
  }, 120_000);

  afterEach(async () => {
    const report = await checkLedgerInvariants(h.pool);
    expect(report.violations).toEqual([]);
  });

  afterAll(async () => {
    await h?.stop();
  });

  const publish = async <T>(type: Parameters<PointsClearingHarness['publish']>[0], payload: T, key: string) =>
    h.publish(type as never, payload as never, { key });
  const issued = (
    holder: string,
    issuer: ReturnType<typeof at>,
    points: bigint,
    value: bigint,
    lotId = randomUUID(),
  ) =>
    h.publish(
      PointsEvents.PointsIssued,
      {
        lotId,
        tenancy: issuer,
        holderId: holder,
        points,
        reason: 'GOODWILL',
        expiresAt: undefined,
        occurredAt: toTimestamp(new Date()),
        value: CNY(value),
      },
      { key: holder },
    );
  const redeemed = (
    holder: string,
    reservationId: string,
    programme: string,
    place: ReturnType<typeof at>,
    lots: IssuerPoints[],
  ) =>
    h.publish(
      PointsEvents.PointsRedeemed,
      {
        reservationId,
        tenancy: at(programme),
        holderId: holder,
        points: lots.reduce((s, l) => s + l.points, 0n),
        reference: 'checkout',
        occurredAt: toTimestamp(new Date()),
        value: CNY(lots.reduce((s, l) => s + (l.value?.amountMinor ?? 0n), 0n)),
        lots,
        redeemedAt: place,
      },
      { key: holder },
    );
  const obliged = (
    holder: string,
    reservationId: string,
    debtor: ReturnType<typeof at>,
    creditor: ReturnType<typeof at>,
    points: bigint,
    value: bigint,
    obligationId = randomUUID(),
  ) =>
    h.publish(
      PointsEvents.ClearingObligationCreated,
      {
        obligationId,
        reservationId,
        debtor,
        creditor,
        points,
        value: CNY(value),
        occurredAt: toTimestamp(new Date()),
      },
      { key: holder },
    );

  it("posts issuance and earning to the issuer's expense and liability, once per lot", async () => {
    const op = uniqueName('op');
    const u = uniqueName('u');
    const lotId = randomUUID();
    const first = await issued(u, at(op), 100n, 100n, lotId);
    const earnedLot = randomUUID();
    const earned = await publish(
      PointsEvents.PointsEarned,
      {
        lotId: earnedLot,
        tenancy: at(op, 'p1'),
        holderId: u,
        points: 50n,
        value: CNY(100n),
        paymentId: randomUUID(),
        ruleId: randomUUID(),
        memberId: '',
        availableAt: undefined,
        expiresAt: undefined,
        occurredAt: toTimestamp(new Date()),
      },
      u,
    );
    await h.applied(earned);
    expect(await postingOf(h.pool, `points:lot:${lotId}`)).toEqual([
      [K.ACCOUNT_KIND_POINTS_LIABILITY, `${op}//`, -100n],
      [K.ACCOUNT_KIND_MARKETING_SUBSIDY, `${op}//`, 100n],
    ]);
    expect(await postingOf(h.pool, `points:lot:${earnedLot}`)).toEqual([
      [K.ACCOUNT_KIND_POINTS_LIABILITY, `${op}/p1/`, -100n],
      [K.ACCOUNT_KIND_MARKETING_SUBSIDY, `${op}/p1/`, 100n],
    ]);
    // the same event again (the inbox), and the same lot under a new event id (the posting's key)
    await h.publish(
      PointsEvents.PointsIssued,
      {
        lotId,
        tenancy: at(op),
        holderId: u,
        points: 100n,
        reason: 'GOODWILL',
        expiresAt: undefined,
        occurredAt: undefined,
        value: CNY(100n),
      },
      { key: u, eventId: first },
    );
    await h.applied(await issued(u, at(op), 100n, 100n, lotId));
    expect(await transactionsWithKey(h.pool, `points:lot:${lotId}`)).toBe(1);
    const liability = await balancesOf(h.pool, K.ACCOUNT_KIND_POINTS_LIABILITY);
    expect([liability.get(`${op}//`), liability.get(`${op}/p1/`)]).toEqual([-100n, -100n]);
  });

  it('takes reversed and expired points out of the liability and the expense, per issuer', async () => {
    const op = uniqueName('op');
    const u = uniqueName('u');
    await issued(u, at(op), 100n, 100n);
    await issued(u, at(op, 'p1'), 50n, 50n);
    const reversal = await publish(
      PointsEvents.PointsReversed,
      {
        tenancy: at(op),
        holderId: u,
        paymentId: randomUUID(),
        refundId: randomUUID(),
        lots: [lot(at(op), 30n, 30n), lot(at(op, 'p1'), 10n, 10n), lot(at(op), 5n, 5n)],
        shortfall: 0n,
        shortfallPolicy: ShortfallPolicy.SHORTFALL_POLICY_DEBT,
        occurredAt: toTimestamp(new Date()),
      },
      u,
    );
    const expiry = await publish(
      PointsEvents.PointsExpired,
      {
        tenancy: at(op),
        holderId: u,
        lots: [lot(at(op, 'p1'), 7n, 7n)],
        occurredAt: toTimestamp(new Date()),
      },
      u,
    );
    // a refund that took nothing back posts nothing
    const nothing = await publish(
      PointsEvents.PointsReversed,
      {
        tenancy: at(op),
        holderId: u,
        paymentId: randomUUID(),
        refundId: randomUUID(),
        lots: [],
        shortfall: 3n,
        shortfallPolicy: ShortfallPolicy.SHORTFALL_POLICY_FORGIVE,
        occurredAt: toTimestamp(new Date()),
      },
      u,
    );
    await h.applied(nothing);
    expect(await postingOf(h.pool, `points:reversed:${reversal}`)).toEqual([
      [K.ACCOUNT_KIND_POINTS_LIABILITY, `${op}//`, 35n],
      [K.ACCOUNT_KIND_POINTS_LIABILITY, `${op}/p1/`, 10n],
      [K.ACCOUNT_KIND_MARKETING_SUBSIDY, `${op}//`, -35n],
      [K.ACCOUNT_KIND_MARKETING_SUBSIDY, `${op}/p1/`, -10n],
    ]);
    expect(await postingOf(h.pool, `points:expired:${expiry}`)).toEqual([
      [K.ACCOUNT_KIND_POINTS_LIABILITY, `${op}/p1/`, 7n],
      [K.ACCOUNT_KIND_MARKETING_SUBSIDY, `${op}/p1/`, -7n],
    ]);
    expect(await transactionsWithKey(h.pool, `points:reversed:${nothing}`)).toBe(0);
    const liability = await balancesOf(h.pool, K.ACCOUNT_KIND_POINTS_LIABILITY);
    const subsidy = await balancesOf(h.pool, K.ACCOUNT_KIND_MARKETING_SUBSIDY);
    expect([liability.get(`${op}//`), liability.get(`${op}/p1/`)]).toEqual([-65n, -33n]);
    expect([subsidy.get(`${op}//`), subsidy.get(`${op}/p1/`)]).toEqual([65n, 33n]);
  });

  it("redeemed where issued: liability to the merchant's payable; elsewhere: through clearing, then the cycle settles it", async () => {
    const a = uniqueName('opa');
    const b = uniqueName('opb');
    const u = uniqueName('u');
    await issued(u, at(a), 100n, 100n);
    await issued(u, at(a, 'p1'), 40n, 80n);
    // spent at a's own shop: a's lot is a's own, p1's owes a through clearing
    const r1 = randomUUID();
    await redeemed(u, r1, a, at(a, '', 'shop'), [lot(at(a), 10n, 10n), lot(at(a, 'p1'), 6n, 12n)]);
    const o1 = randomUUID();
    await obliged(u, r1, at(a, 'p1'), at(a, '', 'shop'), 6n, 12n, o1);
    // spent at b's merchant: everything through clearing
    const r2 = randomUUID();
    await redeemed(u, r2, a, at(b, 'mall', 'm9'), [lot(at(a), 20n, 20n)]);
    const o2 = randomUUID();
    const last = await obliged(u, r2, at(a), at(b, 'mall', 'm9'), 20n, 20n, o2);
    await h.applied(last);
    expect(await postingOf(h.pool, `points:redeemed:${r1}`)).toEqual([
      [K.ACCOUNT_KIND_MERCHANT_PAYABLE, `${a}//shop`, -10n],
      [K.ACCOUNT_KIND_POINTS_LIABILITY, `${a}//`, 10n],
    ]);
    expect(await postingOf(h.pool, `points:obligation:${o1}`)).toEqual([
      [K.ACCOUNT_KIND_MERCHANT_PAYABLE, `${a}//shop`, -12n],
      [K.ACCOUNT_KIND_POINTS_LIABILITY, `${a}/p1/`, 12n],
      [K.ACCOUNT_KIND_POINTS_CLEARING, `${a}//`, 12n],
      [K.ACCOUNT_KIND_POINTS_CLEARING, `${a}/p1/`, -12n],
    ]);
    expect(await transactionsWithKey(h.pool, `points:redeemed:${r2}`)).toBe(0);
    expect(await postingOf(h.pool, `points:obligation:${o2}`)).toEqual([
      [K.ACCOUNT_KIND_MERCHANT_PAYABLE, `${b}/mall/m9`, -20n],
      [K.ACCOUNT_KIND_POINTS_LIABILITY, `${a}//`, 20n],
      [K.ACCOUNT_KIND_POINTS_CLEARING, `${a}//`, -20n],
      [K.ACCOUNT_KIND_POINTS_CLEARING, `${b}/mall/`, 20n],
    ]);
    // the obligation announced again under a new event id: nothing more
    await h.applied(await obliged(u, r2, at(a), at(b, 'mall', 'm9'), 20n, 20n, o2));
    expect(await transactionsWithKey(h.pool, `points:obligation:${o2}`)).toBe(1);
    const clearing = await balancesOf(h.pool, K.ACCOUNT_KIND_POINTS_CLEARING);
    expect([clearing.get(`${a}//`), clearing.get(`${a}/p1/`), clearing.get(`${b}/mall/`)]).toEqual([
      -8n,
      -12n,
      20n,
    ]);
    const liability = await balancesOf(h.pool, K.ACCOUNT_KIND_POINTS_LIABILITY);
    expect([liability.get(`${a}//`), liability.get(`${a}/p1/`)]).toEqual([-70n, -68n]);
    // the cycle: a's projects owe b 20 in all; the clearing accounts return to zero
    let settled = 0;
    for (let n = await h.replica.settleCycle(500); n > 0; n = await h.replica.settleCycle(500)) settled += n;
    expect(settled).toBeGreaterThanOrEqual(2);
    const after = await balancesOf(h.pool, K.ACCOUNT_KIND_POINTS_CLEARING);
    expect([after.get(`${a}//`), after.get(`${a}/p1/`), after.get(`${b}/mall/`)]).toEqual([0n, 0n, 0n]);
    const bank = await balancesOf(h.pool, K.ACCOUNT_KIND_BANK);
    expect([bank.get(`${a}//`), bank.get(`${b}//`)]).toEqual([-20n, 20n]);
    const { rows } = await h.pool.query<{ status: string }>(
      'SELECT status FROM points_clearing_obligations WHERE obligation_id = ANY($1::uuid[])',
      [[o1, o2]],
    );
    expect(rows.map((r) => r.status)).toEqual(['settled', 'settled']);
    expect(await h.replica.settleCycle(500)).toBe(0);
    // a clearing posting is not corrected by hand: it follows the obligations
    const { rows: tx } = await h.pool.query<{ tx_id: string }>(
      'SELECT tx_id FROM ledger_transactions WHERE idempotency_key = $1',
      [`points:obligation:${o2}`],
    );
    const admin = h.clientOf({}, ['settlement:admin', 'city:admin']);
    const refused = await grpcError(
      admin.reverseTransaction({ requestId: randomUUID(), transactionId: tx[0]!.tx_id, reason: 'by hand' }),
    );
    expect(refused.code).toBe(status.FAILED_PRECONDITION);
    expect(errorCode(refused)).toBe('TRANSACTION_MANAGED_BY_POINTS_CLEARING');
  });

  it('240 concurrent redemptions across three operators: exact liabilities and payables, clearing nets to zero throughout and settles to zero', async () => {
    const ops = [uniqueName('opx'), uniqueName('opy'), uniqueName('opz')];
    const places = ops.flatMap((o) => [at(o, '', 'shop'), at(o, 'p1', 'shop')]);
    const issuers = ops.flatMap((o) => [at(o), at(o, 'p1')]);
    const key = (t: { operatorId: string; projectId: string; merchantId?: string }) =>
      `${t.operatorId}/${t.projectId}/${t.merchantId ?? ''}`;
    const model = {
      liability: new Map<string, bigint>(),
      payable: new Map<string, bigint>(),
      bank: new Map<string, bigint>(),
    };
    const add = (m: Map<string, bigint>, k: string, v: bigint) => m.set(k, (m.get(k) ?? 0n) + v);
    // every issuer's holders get their lots first, then the redemptions run concurrently
    const plan = Array.from({ length: 240 }, (_, i) => {
      const issuer = issuers[i % issuers.length]!;
      const place = places[(i * 7 + Math.floor(i / 6)) % places.length]!;
      const value = BigInt(10 + (i % 13));
      return { holder: uniqueName('u'), issuer, place, value, reservationId: randomUUID() };
    });
    const issuedIds = await Promise.all(
      plan.map((p) => issued(p.holder, p.issuer, p.value + 3n, p.value + 3n)),
    );
    for (const id of issuedIds) await h.applied(id);
    let obligations = 0;
    for (const p of plan) {
      add(model.liability, key(p.issuer), -3n); // 3 of each lot stay unspent
      add(model.payable, key(p.place), -p.value);
      if (p.issuer.operatorId !== p.place.operatorId || p.issuer.projectId !== p.place.projectId) {
        obligations++;
        add(model.bank, p.place.operatorId, p.value);
        add(model.bank, p.issuer.operatorId, -p.value);
      }
    }
    const publishRedemption = async (p: (typeof plan)[number]) => {
      const lotIssued = lot(p.issuer, p.value, p.value);
      let last = await redeemed(p.holder, p.reservationId, p.issuer.operatorId, p.place, [lotIssued]);
      if (p.issuer.operatorId !== p.place.operatorId || p.issuer.projectId !== p.place.projectId)
        last = await obliged(p.holder, p.reservationId, p.issuer, p.place, p.value, p.value);
      return last;
    };
    // the first half arrives, a cycle settles part of it (at most 60 obligations) ...
    for (const id of await Promise.all(plan.slice(0, 120).map(publishRedemption))) await h.applied(id);
    const partial = await h.replica.settleCycle(60);
    expect(partial).toBe(60);
    // ... then the second half arrives while two replicas run cycles and the ledger check
    let publishing = true;
    const midway: string[] = [];
    const cycleLoop = async () => {
      while (publishing) {
        await h.replica.settleCycle(40);
        const report = await checkLedgerInvariants(h.pool);
        midway.push(...report.violations.map((v) => `${v.invariant}: ${v.detail}`));
      }
    };
    const loops = [cycleLoop(), cycleLoop()];
    const lastIds = await Promise.all(plan.slice(120).map(publishRedemption));
    for (const id of lastIds) await h.applied(id);
    publishing = false;
    await Promise.all(loops);
    // while events and cycles ran concurrently, every check saw clearing net to zero and equal the open obligations
    expect(midway).toEqual([]);
    while ((await h.replica.settleCycle(100)) > 0);
    const { rows } = await h.pool.query<{ open: number; settled: number }>(
      `SELECT count(*) FILTER (WHERE status = 'open')::int AS open, count(*) FILTER (WHERE status = 'settled')::int AS settled
         FROM points_clearing_obligations WHERE creditor_operator_id = ANY($1) OR debtor_operator_id = ANY($1)`,
      [ops],
    );
    expect(rows[0]).toEqual({ open: 0, settled: obligations });
    expect(obligations).toBeGreaterThan(150);
    const liability = await balancesOf(h.pool, K.ACCOUNT_KIND_POINTS_LIABILITY);
    const payable = await balancesOf(h.pool, K.ACCOUNT_KIND_MERCHANT_PAYABLE);
    const clearing = await balancesOf(h.pool, K.ACCOUNT_KIND_POINTS_CLEARING);
    const bank = await balancesOf(h.pool, K.ACCOUNT_KIND_BANK);
    for (const [k, v] of model.liability) expect([k, liability.get(k)]).toEqual([k, v]);
    for (const [k, v] of model.payable) expect([k, payable.get(k)]).toEqual([k, v]);
    for (const i of issuers) expect([key(i), clearing.get(key(i)) ?? 0n]).toEqual([key(i), 0n]);
    for (const o of ops) expect([o, bank.get(`${o}//`) ?? 0n]).toEqual([o, model.bank.get(o) ?? 0n]);
    expect(ops.reduce((s, o) => s + (bank.get(`${o}//`) ?? 0n), 0n)).toBe(0n);
  }, 240_000);
});
