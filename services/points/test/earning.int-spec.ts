import { randomUUID } from 'node:crypto';
import { status } from '@grpc/grpc-js';
import { cityPeriod } from '@citybase/platform';
import { uniqueName } from '@citybase/platform/testing';
import { PaymentScenario } from '@citybase/contracts/citybase/payment/v1/payment';
import { EntryKind, ShortfallPolicy } from '@citybase/contracts/citybase/points/v1/points';
import type { PaymentSucceeded } from '@citybase/contracts/citybase/payment/v1/events';
import {
  budgetTotals,
  errorCode,
  errorField,
  eventsOf,
  grpcError,
  lapseLots,
  PointsClient,
  POINTS_SCOPES,
  replica,
  seedBudget,
  seedProgramme,
} from './accounts-harness';
import { EarningHarness, startEarningHarness } from './earning-harness';
import { checkPointsInvariants } from '../src/invariants';
import { cityClient, OPERATOR_SCOPES } from './points-harness';

const FEE = PaymentScenario.PAYMENT_SCENARIO_PROPERTY_FEE;

/** The value, or the test fails naming what is missing. */
function present<T>(value: T | undefined | null, what: string): T {
  if (value === undefined || value === null) throw new Error(`${what} is missing`);
  return value;
}
const seconds = (t: { seconds: bigint } | undefined) => Number(present(t, 'timestamp').seconds);
const PARKING = PaymentScenario.PAYMENT_SCENARIO_PARKING;

describe('points earning: rules, PaymentSucceeded, release, RefundSucceeded (in-process, real PostgreSQL and Kafka)', () => {
  let h: EarningHarness;
  let op: string;
  let backOffice: PointsClient;
  let checkout: PointsClient;

  const tenancy = (projectId = '') => ({ operatorId: op, projectId, merchantId: '' });
  const setRule = (
    over: { projectId?: string; scenario?: number; pointsPerYuan?: number; dailyCap?: bigint } = {},
  ) =>
    backOffice.setEarningRule({
      requestId: uniqueName('rule'),
      rule: {
        ruleId: '',
        tenancy: tenancy(over.projectId),
        scenario: over.scenario ?? FEE,
        pointsPerYuan: over.pointsPerYuan ?? 1,
        dailyCap: over.dailyCap ?? 0n,
        updatedAt: undefined,
      },
    });
  const pay = (holder: string, amountMinor: bigint, over: Partial<PaymentSucceeded> = {}) =>
    h.paid({
      tenancy: { operatorId: op, projectId: '', merchantId: 'm-1' },
      payerRef: holder,
      amount: { currency: 'CNY', amountMinor },
      ...over,
    });
  const earning = async (paymentId: string) =>
    (
      await h.pool.query<{
        points: bigint;
        reason: string;
        lot_id: string | null;
        reversed: bigint;
        debt_repaid: bigint;
      }>('SELECT points, reason, lot_id, reversed, debt_repaid FROM earnings WHERE payment_id = $1', [
        paymentId,
      ])
    ).rows;
  const earningOf = async (paymentId: string) => present((await earning(paymentId))[0], 'earning');
  const balance = async (holderId: string) => {
    const b = await backOffice.getBalance({ tenancy: tenancy(), holderId });
    return { available: b.available, pending: b.pending, debt: b.debt };
  };

  beforeAll(async () => {
    h = await startEarningHarness();
  });
  afterAll(() => h?.stop());
  beforeEach(async () => {
    op = uniqueName('op');
    backOffice = h.clientOf({ operators: [op] }, [...OPERATOR_SCOPES, ...POINTS_SCOPES]);
    checkout = h.clientOf({ operators: [op] }, POINTS_SCOPES);
  });
  afterEach(async () => {
    expect(await checkPointsInvariants(h.pool)).toEqual([]);
  });

  describe('SetEarningRule, ListEarningRules', () => {
    it('sets one rule per (operator, project, scenario), changes it when set again, and lists them', async () => {
      const first = present((await setRule({ pointsPerYuan: 2, dailyCap: 500n })).rule, 'rule');
      expect(first).toMatchObject({ pointsPerYuan: 2, dailyCap: 500n, scenario: FEE });
      const again = present((await setRule({ pointsPerYuan: 3 })).rule, 'rule');
      expect([again.ruleId, again.pointsPerYuan, again.dailyCap]).toEqual([first.ruleId, 3, 0n]);
      await setRule({ projectId: 'proj-a', pointsPerYuan: 5 });
      await setRule({ scenario: PARKING, pointsPerYuan: 1 });
      const all = await backOffice.listEarningRules({
        tenancy: tenancy(),
        page: { pageSize: 2, pageToken: '' },
      });
      expect(all.rules.map((r) => [r.tenancy?.projectId, r.scenario, r.pointsPerYuan])).toEqual([
        ['', FEE, 3],
        ['', PARKING, 1],
      ]);
      const next = await backOffice.listEarningRules({
        tenancy: tenancy(),
        page: { pageSize: 2, pageToken: present(all.page, 'page').nextPageToken },
      });
      expect(next.rules.map((r) => [r.tenancy?.projectId, r.pointsPerYuan])).toEqual([['proj-a', 5]]);
      expect(next.page?.nextPageToken).toBe('');
    });

    it('refuses out-of-range rules naming the field, and other tenancies, writing nothing', async () => {
      const cases: [Record<string, unknown>, string][] = [
        [{ pointsPerYuan: 10_001 }, 'rule.points_per_yuan'],
        [{ pointsPerYuan: -1 }, 'rule.points_per_yuan'],
        [{ dailyCap: -1n }, 'rule.daily_cap'],
        [{ scenario: 0 }, 'rule.scenario'],
      ];
      for (const [over, field] of cases) {
        const err = await grpcError(setRule(over));
        expect([err.code, errorField(err)]).toEqual([status.INVALID_ARGUMENT, field]);
      }
      const other = h.clientOf({ operators: [uniqueName('op')] }, OPERATOR_SCOPES);
      const project = h.clientOf({ projects: ['proj-a'] }, OPERATOR_SCOPES);
      const denied = [
        await grpcError(
          other.setEarningRule({
            requestId: uniqueName('r'),
            rule: {
              ruleId: '',
              tenancy: tenancy(),
              scenario: FEE,
              pointsPerYuan: 1,
              dailyCap: 0n,
              updatedAt: undefined,
            },
          }),
        ),
        await grpcError(
          project.setEarningRule({
            requestId: uniqueName('r'),
            rule: {
              ruleId: '',
              tenancy: tenancy('proj-a'),
              scenario: FEE,
              pointsPerYuan: 1,
              dailyCap: 0n,
              updatedAt: undefined,
            },
          }),
        ),
        await grpcError(other.listEarningRules({ tenancy: tenancy(), page: undefined })),
      ];
      for (const err of denied)
        expect([err.code, errorCode(err)]).toEqual([status.PERMISSION_DENIED, 'TENANCY_FORBIDDEN']);
      const { rows } = await h.pool.query('SELECT 1 FROM earning_rules WHERE operator_id = $1', [op]);
      expect(rows).toHaveLength(0);
      // the city sets any operator's rule
      await cityClient(h).setEarningRule({
        requestId: uniqueName('r'),
        rule: {
          ruleId: '',
          tenancy: tenancy(),
          scenario: FEE,
          pointsPerYuan: 1,
          dailyCap: 0n,
          updatedAt: undefined,
        },
      });
    });
  });

  describe('earning on PaymentSucceeded', () => {
    it('earns floor(amount * rate / 100) as a pending lot until the refund window passes, charged to the budget', async () => {
      await seedProgramme(h, op, { refundWindowHours: 24 });
      await seedBudget(h, op, 10_000n);
      await setRule({ pointsPerYuan: 3 });
      const holder = uniqueName('u');
      const p = await pay(holder, 12_345n); // 123.45 yuan: floor(12345 * 3 / 100) = 370
      expect(await earning(p.paymentId)).toMatchObject([{ points: 370n, reason: '' }]);
      expect(await balance(holder)).toEqual({ available: 0n, pending: 370n, debt: 0n });
      expect((await budgetTotals(h.pool, op)).issued).toBe(370n);
      const [earned] = await eventsOf(h.pool, 'PointsEarned').then((es) =>
        es.filter((e) => e.paymentId === p.paymentId),
      );
      expect(earned).toMatchObject({
        holderId: holder,
        points: 370n,
        value: { currency: 'CNY', amountMinor: 370n },
      });
      const lots = await checkout.listLots({
        tenancy: tenancy(),
        holderId: holder,
        page: undefined,
        includeEmpty: false,
      });
      const lot = present(lots.lots[0], 'lot');
      expect(seconds(lot.availableAt) - seconds(p.occurredAt)).toBe(24 * 3600);
      expect(seconds(lot.expiresAt) - seconds(p.occurredAt)).toBe(365 * 86400);
    });

    it("a checkout's money part (PaymentSucceeded naming its checkout) earns as any payment of its scenario", async () => {
      // docs/payment-checkout.md: the payer paid that money; the points and coupon parts are not in it
      await seedProgramme(h, op, { refundWindowHours: 24 });
      await seedBudget(h, op, 10_000n);
      await setRule({ pointsPerYuan: 3 });
      const holder = uniqueName('u');
      const p = await pay(holder, 12_345n, { checkoutId: randomUUID() });
      expect(await earning(p.paymentId)).toMatchObject([{ points: 370n, reason: '' }]);
      expect(await balance(holder)).toEqual({ available: 0n, pending: 370n, debt: 0n });
    });

    it("a project's rule wins over the operator's and charges the project's budget", async () => {
      await seedProgramme(h, op);
      await seedBudget(h, op, 10_000n);
      await backOffice.setBudget({
        requestId: uniqueName('b'),
        tenancy: tenancy('proj-a'),
        period: cityPeriod(new Date()),
        allotted: 1_000n,
      });
      await setRule({ pointsPerYuan: 1 });
      await setRule({ projectId: 'proj-a', pointsPerYuan: 5 });
      const holder = uniqueName('u');
      const inProject = await pay(holder, 1_000n, {
        tenancy: { operatorId: op, projectId: 'proj-a', merchantId: 'm' },
      });
      const elsewhere = await pay(holder, 1_000n, {
        tenancy: { operatorId: op, projectId: 'proj-b', merchantId: 'm' },
      });
      expect((await earningOf(inProject.paymentId)).points).toBe(50n);
      expect((await earningOf(elsewhere.paymentId)).points).toBe(10n);
      const { rows } = await h.pool.query<{ project_id: string; issued: bigint }>(
        'SELECT project_id, issued FROM budgets WHERE operator_id = $1 ORDER BY project_id',
        [op],
      );
      expect(rows.map((r) => [r.project_id, r.issued])).toEqual([
        ['', 10n],
        ['proj-a', 50n],
      ]);
    });

    it("multiplies by the holder's tier (per mille) and clamps to the rule's daily cap per holder", async () => {
      await seedProgramme(h, op, {
        tiers: [
          { name: 'BASIC', threshold: 0n, multiplierPermille: 1000 },
          { name: 'GOLD', threshold: 1000n, multiplierPermille: 1500 },
        ],
      });
      await seedBudget(h, op, 100_000n);
      await setRule({ pointsPerYuan: 1, dailyCap: 400n });
      const gold = uniqueName('u');
      const first = await pay(gold, 10_000n); // tier '' earns 100
      await h.pool.query(`UPDATE accounts SET tier = 'GOLD' WHERE operator_id = $1 AND holder_id = $2`, [
        op,
        gold,
      ]);
      const second = await pay(gold, 10_001n); // floor(100 * 1500 / 1000) = 150
      const third = await pay(gold, 20_000n); // 300, clamped to 400 - 250 = 150
      const fourth = await pay(gold, 20_000n); // the cap is reached
      const other = await pay(uniqueName('u'), 50_000n); // another holder: its own cap
      expect((await earningOf(first.paymentId)).points).toBe(100n);
      expect((await earningOf(second.paymentId)).points).toBe(150n);
      expect((await earningOf(third.paymentId)).points).toBe(150n);
      expect(await earning(fourth.paymentId)).toMatchObject([
        { points: 0n, reason: 'DAILY_CAP_REACHED', lot_id: null },
      ]);
      expect((await earningOf(other.paymentId)).points).toBe(400n);
      expect((await balance(gold)).available).toBe(400n);
    });

    it('records a payment no rule covers, without a programme, without or beyond a budget once, without a lot', async () => {
      const holder = uniqueName('u');
      const noRule = await pay(holder, 1_000n);
      await setRule({ pointsPerYuan: 1 });
      const noProgramme = await pay(holder, 1_000n);
      await seedProgramme(h, op);
      const noBudget = await pay(holder, 1_000n);
      await seedBudget(h, op, 15n);
      const within = await pay(holder, 1_000n);
      const beyond = await pay(holder, 1_000n); // 10 more of 5 left
      for (const [p, reason] of [
        [noRule, 'NO_RULE'],
        [noProgramme, 'PROGRAMME_NOT_SET'],
        [noBudget, 'BUDGET_NOT_SET'],
        [beyond, 'BUDGET_EXCEEDED'],
      ] as const)
        expect(await earning(p.paymentId)).toMatchObject([{ points: 0n, reason, lot_id: null }]);
      expect((await earningOf(within.paymentId)).points).toBe(10n);
      // redelivered (same event id) and published again (a new event id): still one row, no lot
      await h.paid(beyond, { eventId: beyond.eventId });
      await h.paid(beyond);
      expect(await earning(beyond.paymentId)).toHaveLength(1);
      expect(await balance(holder)).toEqual({ available: 10n, pending: 0n, debt: 0n });
      expect((await budgetTotals(h.pool, op)).issued).toBe(10n);
    });

    it('a PaymentSucceeded delivered twice (same and new event id) earns once', async () => {
      await seedProgramme(h, op);
      await seedBudget(h, op, 10_000n);
      await setRule({ pointsPerYuan: 1 });
      const holder = uniqueName('u');
      const p = await pay(holder, 5_000n);
      await h.paid(p, { eventId: p.eventId });
      await h.paid(p);
      expect(await earning(p.paymentId)).toHaveLength(1);
      expect(await balance(holder)).toEqual({ available: 50n, pending: 0n, debt: 0n });
      expect((await budgetTotals(h.pool, op)).issued).toBe(50n);
      const { rows } = await h.pool.query('SELECT 1 FROM lots WHERE source_ref = $1', [p.paymentId]);
      expect(rows).toHaveLength(1);
    });
  });

  describe('release', () => {
    it('makes pending lots available once their window has passed, once, with RELEASED and PointsReleased', async () => {
      await seedProgramme(h, op, { refundWindowHours: 1 });
      await seedBudget(h, op, 10_000n);
      await setRule({ pointsPerYuan: 1 });
      const holder = uniqueName('u');
      const due = await pay(holder, 2_000n);
      await pay(holder, 3_000n);
      expect(await balance(holder)).toEqual({ available: 0n, pending: 50n, debt: 0n });
      await h.pool.query(`UPDATE lots SET available_at = now() - interval '1 second' WHERE source_ref = $1`, [
        due.paymentId,
      ]);
      await Promise.all([h.jobs.releaseDueLots(100), h.jobs.releaseDueLots(100)]);
      await h.jobs.releaseDueLots(100);
      expect(await balance(holder)).toEqual({ available: 20n, pending: 30n, debt: 0n });
      const released = (await eventsOf(h.pool, 'PointsReleased')).filter((e) => e.holderId === holder);
      expect(released.map((e) => e.points)).toEqual([20n]);
      const { rows } = await h.pool.query<{ n: string }>(
        `SELECT count(*) AS n FROM points_entries e JOIN accounts a USING (account_id)
          WHERE a.holder_id = $1 AND e.kind = $2`,
        [holder, EntryKind.ENTRY_KIND_RELEASED],
      );
      expect(Number(present(rows[0], 'count').n)).toBe(1);
    });
  });

  describe('expiry of a pending lot', () => {
    it('a lot whose lifetime ends before its refund window expires from pending', async () => {
      await seedProgramme(h, op, { refundWindowHours: 72, lotLifetimeDays: 1 });
      await seedBudget(h, op, 10_000n);
      await setRule({ pointsPerYuan: 1 });
      const holder = uniqueName('u');
      const p = await pay(holder, 4_000n);
      const lots = await h.pool.query<{ lot_id: string }>('SELECT lot_id FROM lots WHERE source_ref = $1', [
        p.paymentId,
      ]);
      await lapseLots(
        h.pool,
        lots.rows.map((r) => r.lot_id),
      );
      await replica(h).expireDueLots(100);
      expect(await balance(holder)).toEqual({ available: 0n, pending: 0n, debt: 0n });
      expect((await budgetTotals(h.pool, op)).expired).toBe(40n);
      // released afterwards, nothing is left to move; a refund finds the points gone by expiry: it
      // takes nothing and records no debt (the holder never used them)
      await h.pool.query(`UPDATE lots SET available_at = now() - interval '1 second' WHERE source_ref = $1`, [
        p.paymentId,
      ]);
      await h.jobs.releaseDueLots(100);
      await h.refunded(p, 4_000n);
      expect(await balance(holder)).toEqual({ available: 0n, pending: 0n, debt: 0n });
      const earning = await h.pool.query<{ reversed: bigint; expired_absorbed: bigint }>(
        'SELECT reversed, expired_absorbed FROM earnings WHERE payment_id = $1',
        [p.paymentId],
      );
      expect(earning.rows[0]).toEqual({ reversed: 40n, expired_absorbed: 40n });
    });
  });

  describe('refunds', () => {
    const setUp = async (policy = ShortfallPolicy.SHORTFALL_POLICY_DEBT, refundWindowHours = 0) => {
      await seedProgramme(h, op, { shortfallPolicy: policy, refundWindowHours });
      await seedBudget(h, op, 100_000n);
      await setRule({ pointsPerYuan: 1 });
    };
    const spend = async (holderId: string, points: bigint) => {
      const r = await checkout.reservePoints({
        requestId: uniqueName('res'),
        tenancy: tenancy(),
        holderId,
        points,
        reference: 'shop',
        ttlSeconds: 0,
        redeemedAt: undefined,
      });
      await checkout.confirmReservation({
        requestId: uniqueName('conf'),
        tenancy: tenancy(),
        reservationId: present(r.reservation, 'reservation').reservationId,
      });
    };

    it('a partial refund takes back its share from the pending lot, a full one the rest; budget uncharged', async () => {
      await setUp(ShortfallPolicy.SHORTFALL_POLICY_DEBT, 24);
      const holder = uniqueName('u');
      const p = await pay(holder, 10_000n); // 100 points, pending
      await h.refunded(p, 2_500n); // a quarter: 25
      expect(await balance(holder)).toEqual({ available: 0n, pending: 75n, debt: 0n });
      expect((await earningOf(p.paymentId)).reversed).toBe(25n);
      await h.refunded(p, 10_000n); // all of it: 75 more
      expect(await balance(holder)).toEqual({ available: 0n, pending: 0n, debt: 0n });
      expect((await budgetTotals(h.pool, op)).issued).toBe(0n);
      const reversed = (await eventsOf(h.pool, 'PointsReversed')).filter((e) => e.paymentId === p.paymentId);
      expect(reversed.map((e) => [e.lots.reduce((s, l) => s + l.points, 0n), e.shortfall])).toEqual([
        [25n, 0n],
        [75n, 0n],
      ]);
      // released later, the empty lot moves nothing
      await h.pool.query(`UPDATE lots SET available_at = now() - interval '1 second' WHERE source_ref = $1`, [
        p.paymentId,
      ]);
      await h.jobs.releaseDueLots(100);
      expect(await balance(holder)).toEqual({ available: 0n, pending: 0n, debt: 0n });
    });

    it('what expired of an earned lot is not taken again by its refunds, from other lots or as debt, over several refunds', async () => {
      await setUp();
      const holder = uniqueName('u');
      await pay(holder, 5_000n); // 50 points of another payment, expiring later
      const p = await pay(holder, 10_000n); // 100 points
      await h.pool.query(`UPDATE lots SET expires_at = now() + interval '1 hour' WHERE source_ref = $1`, [
        p.paymentId,
      ]);
      await spend(holder, 40n); // earliest expiry first: 40 of this payment's lot
      const lot = await h.pool.query<{ lot_id: string }>('SELECT lot_id FROM lots WHERE source_ref = $1', [
        p.paymentId,
      ]);
      await lapseLots(
        h.pool,
        lot.rows.map((r) => r.lot_id),
      );
      await replica(h).expireDueLots(100); // the other 60 expire unused
      expect(await balance(holder)).toEqual({ available: 50n, pending: 0n, debt: 0n });
      await h.refunded(p, 5_000n); // half: 50, all within what expired
      expect(await balance(holder)).toEqual({ available: 50n, pending: 0n, debt: 0n });
      await h.refunded(p, 10_000n); // the rest: 50, of which 10 expired and 40 were spent
      expect(await balance(holder)).toEqual({ available: 10n, pending: 0n, debt: 0n });
      const row = await h.pool.query<{ reversed: bigint; expired_absorbed: bigint }>(
        'SELECT reversed, expired_absorbed FROM earnings WHERE payment_id = $1',
        [p.paymentId],
      );
      expect(row.rows[0]).toEqual({ reversed: 100n, expired_absorbed: 60n });
    });

    it('a refund redelivered, or a later refund with the same total, takes back nothing more', async () => {
      await setUp();
      const holder = uniqueName('u');
      const p = await pay(holder, 10_000n);
      const eventId = await h.refunded(p, 5_000n);
      await h.refunded(p, 5_000n, { eventId });
      await h.refunded(p, 5_000n);
      expect(await balance(holder)).toEqual({ available: 50n, pending: 0n, debt: 0n });
      expect((await earningOf(p.paymentId)).reversed).toBe(50n);
    });

    it('a refund removes the points it earned and spent points are not deducted twice (odoo #257854, #212922)', async () => {
      await setUp();
      const holder = uniqueName('u');
      await pay(holder, 3_000n); // 30 points from another payment
      const p = await pay(holder, 10_000n); // 100 points
      await spend(holder, 110n); // earliest expiry first: 30 of the other payment's, 80 of this one's
      expect(await balance(holder)).toEqual({ available: 20n, pending: 0n, debt: 0n });
      await h.refunded(p, 10_000n);
      // 20 left of its lot are taken, the 80 spent become debt: never the spent units again
      expect(await balance(holder)).toEqual({ available: 0n, pending: 0n, debt: 80n });
      const again = await h.refunded(p, 10_000n);
      await h.refunded(p, 10_000n, { eventId: again });
      expect(await balance(holder)).toEqual({ available: 0n, pending: 0n, debt: 80n });
      expect((await earningOf(p.paymentId)).reversed).toBe(100n);
      expect((await budgetTotals(h.pool, op)).issued).toBe(110n); // 130 earned, 20 taken back
      // the next earning pays the debt off first
      const next = await pay(holder, 10_000n);
      expect(await earning(next.paymentId)).toMatchObject([{ points: 100n, debt_repaid: 80n }]);
      expect(await balance(holder)).toEqual({ available: 20n, pending: 0n, debt: 0n });
    });

    it('takes from other available units earliest expiry first, never held ones; FORGIVE records no debt', async () => {
      await setUp(ShortfallPolicy.SHORTFALL_POLICY_FORGIVE);
      const holder = uniqueName('u');
      const p = await pay(holder, 10_000n); // 100
      await spend(holder, 100n);
      await pay(holder, 2_000n); // 20 more
      const held = await checkout.reservePoints({
        requestId: uniqueName('res'),
        tenancy: tenancy(),
        holderId: holder,
        points: 5n,
        reference: 'x',
        ttlSeconds: 0,
        redeemedAt: undefined,
      });
      await h.refunded(p, 10_000n);
      // 15 unheld taken from the other lot, 85 forgiven; the 5 held stay held
      const b = await checkout.getBalance({ tenancy: tenancy(), holderId: holder });
      expect([b.available, b.reserved, b.debt]).toEqual([0n, 5n, 0n]);
      const [found] = (await eventsOf(h.pool, 'PointsReversed')).filter((e) => e.paymentId === p.paymentId);
      const ev = present(found, 'PointsReversed');
      expect([ev.lots.reduce((s, l) => s + l.points, 0n), ev.shortfall, ev.shortfallPolicy]).toEqual([
        15n,
        85n,
        ShortfallPolicy.SHORTFALL_POLICY_FORGIVE,
      ]);
      await checkout.confirmReservation({
        requestId: uniqueName('c'),
        tenancy: tenancy(),
        reservationId: present(held.reservation, 'reservation').reservationId,
      });
    });
  });

  describe('concurrency', () => {
    it('100 payments of one household near its budget: issued <= budget, each earns at most once', async () => {
      await seedProgramme(h, op, { refundWindowHours: 1 });
      await seedBudget(h, op, 2_500n);
      await setRule({ pointsPerYuan: 1 });
      const household = uniqueName('hh');
      const published = await Promise.all(
        Array.from({ length: 100 }, (_, i) =>
          h.publishPaid({
            tenancy: { operatorId: op, projectId: '', merchantId: 'm' },
            payerRef: household,
            amount: { currency: 'CNY', amountMinor: 3_000n + BigInt(i % 3) * 100n },
          }),
        ),
      );
      // redeliver a fifth of them, and refund a tenth
      const again = await Promise.all(
        published.filter((_, i) => i % 5 === 0).map((p) => h.publishPaid(p.event)),
      );
      await Promise.all([...published, ...again].map((p) => h.applied(p.eventId)));
      await Promise.all(published.filter((_, i) => i % 10 === 0).map((p) => h.refunded(p.event, 1_500n)));
      await h.jobs.releaseDueLots(1000);
      const { rows } = await h.pool.query<{ n: string; earned: bigint; reversed: bigint; refused: string }>(
        `SELECT count(*) AS n, coalesce(sum(points), 0)::bigint AS earned, coalesce(sum(reversed), 0)::bigint AS reversed,
                count(*) FILTER (WHERE reason = 'BUDGET_EXCEEDED') AS refused
           FROM earnings WHERE operator_id = $1`,
        [op],
      );
      const r = present(rows[0], 'totals');
      expect(Number(r.n)).toBe(100);
      expect(Number(r.refused)).toBeGreaterThan(0);
      const totals = await budgetTotals(h.pool, op);
      expect(totals.issued).toBeLessThanOrEqual(2_500n);
      expect(totals.issued).toBe(r.earned - r.reversed);
      const b = await balance(household);
      expect(b.available + b.pending).toBe(r.earned - r.reversed);
    });
  });
});
