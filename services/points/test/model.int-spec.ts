import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { Pool } from 'pg';
import { cityPeriod, toTimestamp } from '@citybase/platform';
import {
  createTestDatabase,
  REPO_ROOT,
  seededRandom,
  spawnService,
  uniqueName,
  waitFor,
} from '@citybase/platform/testing';
import { PointsEvents } from '@citybase/contracts/events';
import { PaymentScenario } from '@citybase/contracts/citybase/payment/v1/payment';
import type { PaymentSucceeded } from '@citybase/contracts/citybase/payment/v1/events';
import { ShortfallPolicy } from '@citybase/contracts/citybase/points/v1/points';
import type { AccountsService } from '../src/accounts/accounts.service';
import { errorCode, grpcError, POINTS_SCOPES, replica, seedProgramme } from './accounts-harness';
import { EarningHarness, startEarningHarness } from './earning-harness';
import { checkPointsInvariants } from '../src/invariants';
import { ModelAccount, ModelLot, Refusal } from './model-reference';
import { cityClient, OPERATOR_SCOPES, PointsClient } from './points-harness';

/**
 * A seeded randomized run of at least 10,000 operations against the points service (in-process, its
 * own PostgreSQL database, payment's events published onto Kafka as earning.int-spec does) and,
 * side by side, the reference model of model-reference.ts: IssuePoints (and replays of it),
 * PaymentSucceeded earnings (daily caps, debt paid off, budgets running out), RefundSucceeded
 * (partial and full, after spending and expiry, debt or forgiveness), ReservePoints (also more than
 * available), ConfirmReservation, CancelReservation (also of ended reservations), SetBudget raises
 * and lowers (also below use), and the release, hold expiry and lot expiry passes.
 *
 * Each account belongs to its own project, charged to that project's budget, so accounts share
 * nothing: a round runs every account's operations in parallel, each account's in order, and the
 * model's answer does not depend on timing. What needs time to pass (a lot's expiry, a hold's
 * deadline, a refund window) is asked for during the round and done after it, in one sequential
 * step: the due rows are made due in the database and the passes run, in the model's order (lot
 * expiry, hold expiry, release). Operations that touch two accounts (transfers, when they exist)
 * belong in that sequential step too.
 *
 * Every answer and every refusal is compared as it comes; after each round every balance
 * (available, pending, reserved, debt); every 10 rounds and at the end every lot (amount,
 * remaining, held, status), every budget node (allotted, issued, redeemed, expired), every
 * earning, and checkPointsInvariants.
 *
 * The seed is printed; POINTS_MODEL_SEED=<seed> replays a run's operations,
 * POINTS_MODEL_OPERATIONS=<n> sizes it.
 */
const SEED = Number(process.env.POINTS_MODEL_SEED ?? Math.floor(Math.random() * 2 ** 31));
const OPERATIONS = Number(process.env.POINTS_MODEL_OPERATIONS ?? 10_000);
const ACCOUNTS = Number(process.env.POINTS_MODEL_ACCOUNTS ?? 32);
/** Operations per account per round. */
const PER_ACCOUNT = 10;
const CHECKPOINT_ROUNDS = 10;

const LIFETIME_DAYS = 365;
const DAY_MS = 86_400_000;
const FEE = PaymentScenario.PAYMENT_SCENARIO_PROPERTY_FEE;

type Op =
  | 'issue'
  | 'replayIssue'
  | 'earn'
  | 'refund'
  | 'reserve'
  | 'confirm'
  | 'cancel'
  | 'endAgain'
  | 'lapseLot'
  | 'lapseHold'
  | 'release'
  | 'budget'
  | 'transfer';

/** How often each operation is drawn. */
const WEIGHTS: [Op, number][] = [
  ['issue', 14],
  ['replayIssue', 2],
  ['earn', 10],
  ['refund', 5],
  ['reserve', 18],
  ['confirm', 10],
  ['cancel', 7],
  ['endAgain', 3],
  ['lapseLot', 5],
  ['lapseHold', 4],
  ['release', 9],
  ['budget', 4],
  ['transfer', 6],
];
const TOTAL_WEIGHT = WEIGHTS.reduce((s, [, w]) => s + w, 0);

/** The value, or the test fails naming what is missing. */
function present<T>(value: T | undefined, what: string): T {
  if (value === undefined) throw new Error(`${what} is missing`);
  return value;
}

const big = (_k: string, v: unknown) => (typeof v === 'bigint' ? v.toString() : v);

/** What the round asked for that needs time to pass: done after the round, in this order. */
interface Due {
  lots: Set<ModelLot>;
  holds: Set<string>;
  release: Set<ModelLot>;
  /** Transfers to other accounts (two accounts: done in the sequential step, in this order). */
  transfers: { to: ModelAccount; points: bigint }[];
  /** Refunds of an account holding received units (they change the sender's budget). */
  refunds: number;
}

const newDue = (): Due => ({
  lots: new Set(),
  holds: new Set(),
  release: new Set(),
  transfers: [],
  refunds: 0,
});

describe(`points against a reference model (seed ${SEED}, ${OPERATIONS} operations)`, () => {
  let h: EarningHarness;
  let api: PointsClient;
  let jobs: AccountsService;
  const operators = { debt: uniqueName('op-debt'), forgive: uniqueName('op-forgive') };
  const period = cityPeriod(new Date());
  const accounts: ModelAccount[] = [];
  const operatorOf = (m: ModelAccount) => (m.policy === 'DEBT' ? operators.debt : operators.forgive);
  const counts = new Map<string, number>();
  const count = (what: string) => counts.set(what, (counts.get(what) ?? 0) + 1);
  /** Milliseconds spent per operation (summed over the accounts running in parallel), and per step. */
  const spent = new Map<string, number>();
  const timed = async <T>(what: string, fn: () => Promise<T>): Promise<T> => {
    const started = Date.now();
    try {
      return await fn();
    } finally {
      spent.set(what, (spent.get(what) ?? 0) + Date.now() - started);
    }
  };
  const seedNote = () => `POINTS_MODEL_SEED=${SEED}`;

  beforeAll(async () => {
    h = await startEarningHarness();
    jobs = replica(h);
    api = h.clientOf({ operators: [operators.debt, operators.forgive] }, [
      ...OPERATOR_SCOPES,
      ...POINTS_SCOPES,
    ]);
    const city = cityClient(h);
    const node = (operatorId: string, projectId = '') => ({ operatorId, projectId, merchantId: '' });
    await city.setBudget({ requestId: randomUUID(), tenancy: node(''), period, allotted: 10n ** 15n });
    for (const [policy, operatorId] of [
      ['DEBT', operators.debt],
      ['FORGIVE', operators.forgive],
    ] as const) {
      await seedProgramme(h, operatorId, {
        lotLifetimeDays: LIFETIME_DAYS,
        refundWindowHours: 24,
        shortfallPolicy:
          policy === 'DEBT'
            ? ShortfallPolicy.SHORTFALL_POLICY_DEBT
            : ShortfallPolicy.SHORTFALL_POLICY_FORGIVE,
      });
      await city.setBudget({
        requestId: randomUUID(),
        tenancy: node(operatorId),
        period,
        allotted: 10n ** 14n,
      });
    }
    const setup = seededRandom(SEED);
    for (let i = 0; i < ACCOUNTS; i++) {
      const m = new ModelAccount(`holder-${i}`, `proj-${i}`, i % 4 === 3 ? 'FORGIVE' : 'DEBT', {
        pointsPerYuan: present([1, 2, 5, 10][Math.floor(setup() * 4)], 'rate'),
        dailyCap: i % 3 === 1 ? 20_000n : 0n,
      });
      accounts.push(m);
      await api.setEarningRule({
        requestId: randomUUID(),
        rule: {
          ruleId: '',
          tenancy: node(operatorOf(m), m.projectId),
          scenario: FEE,
          pointsPerYuan: m.rule.pointsPerYuan,
          dailyCap: m.rule.dailyCap,
          updatedAt: undefined,
        },
      });
      // some budgets tight enough to run out (and be raised again) during the run
      const allotted = i % 2 === 0 ? 2_000_000n : 60_000n;
      await api.setBudget({
        requestId: randomUUID(),
        tenancy: node(operatorOf(m), m.projectId),
        period,
        allotted,
      });
      m.setBudget(allotted);
    }
    console.log(`points model test: POINTS_MODEL_SEED=${SEED} POINTS_MODEL_OPERATIONS=${OPERATIONS}`);
  }, 120_000);

  afterAll(async () => {
    await h?.stop();
  });

  /** The refusal of a call as the model names it (undefined: it succeeded). */
  const refusalOf = async <T>(call: Promise<T>): Promise<{ refusal: Refusal; res?: T }> => {
    try {
      return { refusal: undefined, res: await call };
    } catch (err) {
      if (typeof (err as { code?: unknown }).code !== 'number') throw err;
      const e = await grpcError(Promise.reject(err));
      return { refusal: { code: errorCode(e) ?? `grpc ${e.code}: ${e.details}` } };
    }
  };
  const expectSame = (label: string, got: Refusal, want: Refusal) =>
    expect([label, seedNote(), got]).toEqual([label, seedNote(), want]);

  /** One account's run: its own random sequence (seeded by the seed and its index). */
  const runner = (m: ModelAccount, index: number) => {
    const rand = seededRandom((SEED ^ Math.imul(index + 1, 0x9e3779b1)) >>> 0);
    const int = (lo: number, hi: number) => lo + Math.floor(rand() * (hi - lo + 1));
    const pick = <T>(xs: readonly T[]): T | undefined => (xs.length ? xs[int(0, xs.length - 1)] : undefined);
    const operatorId = operatorOf(m);
    const tenancy = { operatorId, projectId: m.projectId, merchantId: '' };
    const usedExpiries = new Set<number>();
    const uniqueExpiry = (ms: number) => {
      while (usedExpiries.has(ms)) ms += 1;
      usedExpiries.add(ms);
      return ms;
    };
    const issued: { request: Parameters<PointsClient['issuePoints']>[0]; lotId: string }[] = [];
    const payments: PaymentSucceeded[] = [];

    const draw = (): Op => {
      let r = rand() * TOTAL_WEIGHT;
      for (const [op, w] of WEIGHTS) if ((r -= w) < 0) return op;
      return 'issue';
    };

    return async (due: Due, forced?: Op): Promise<void> => {
      const op = forced ?? draw();
      const started = Date.now();
      try {
        await apply(op, due, forced !== undefined);
      } finally {
        spent.set(op, (spent.get(op) ?? 0) + Date.now() - started);
      }
    };

    async function apply(op: Op, due: Due, sequential: boolean): Promise<void> {
      const label = `${m.holderId} ${op}`;
      count(op);
      switch (op) {
        case 'issue': {
          const points = BigInt(int(1, 2_000));
          const expiresAtMs = uniqueExpiry(Date.now() + int(2, 700) * DAY_MS + int(0, DAY_MS));
          const request = {
            requestId: randomUUID(),
            tenancy,
            holderId: m.holderId,
            points,
            reason: 'MODEL',
            expiresAt: toTimestamp(new Date(expiresAtMs)),
          };
          const want = m.issue(points, expiresAtMs);
          const got = await refusalOf(api.issuePoints(request));
          expectSame(label, got.refusal, want.refusal);
          if (want.lot && got.res) {
            want.lot.lotId = got.res.lotId;
            issued.push({ request, lotId: got.res.lotId });
            expect([label, got.res.available]).toEqual([label, m.balance().available]);
          } else count('issue refused');
          return;
        }
        case 'replayIssue': {
          // the same IssuePoints again: the original lot, nothing issued twice
          const prior = pick(issued);
          if (!prior) return;
          const res = await api.issuePoints(prior.request);
          expect([label, seedNote(), res.lotId, res.available]).toEqual([
            label,
            seedNote(),
            prior.lotId,
            m.balance().available,
          ]);
          return;
        }
        case 'earn': {
          const paid = BigInt(int(1, 30_000));
          let paidAt = Date.now() - int(0, 600_000);
          if (cityPeriod(new Date(paidAt)) !== period) paidAt = Date.now();
          while (usedExpiries.has(paidAt + LIFETIME_DAYS * DAY_MS)) paidAt += 1;
          usedExpiries.add(paidAt + LIFETIME_DAYS * DAY_MS);
          const paymentId = randomUUID();
          const earning = m.earn(paymentId, paid, paidAt, LIFETIME_DAYS * DAY_MS);
          const event = await h.paid({
            paymentId,
            tenancy: { operatorId, projectId: m.projectId, merchantId: 'm-1' },
            payerRef: m.holderId,
            scenario: FEE,
            amount: { currency: 'CNY', amountMinor: paid },
            occurredAt: toTimestamp(new Date(paidAt)),
          });
          payments.push(event);
          const { rows } = await h.pool.query<{ points: bigint; lot_id: string | null; reason: string }>(
            'SELECT points, lot_id, reason FROM earnings WHERE payment_id = $1',
            [paymentId],
          );
          const row = rows[0];
          expect([label, seedNote(), row?.points, row?.reason ?? '', row?.lot_id !== null]).toEqual([
            label,
            seedNote(),
            earning.points,
            earning.reason,
            earning.lot !== undefined,
          ]);
          if (earning.lot && row?.lot_id) earning.lot.lotId = row.lot_id;
          if (earning.reason) count(`earn ${earning.reason}`);
          if (earning.debtRepaid > 0n) count('earn repaid debt');
          return;
        }
        case 'refund': {
          if (!sequential && m.holdsReceivedUnits()) {
            // it may take received units, whose budget is the sender's: not while the sender runs
            due.refunds += 1;
            count('refund deferred');
            return;
          }
          const open = payments.filter((p) => {
            const e = m.earnings.get(p.paymentId);
            return e !== undefined && e.refundedTotal < e.paid;
          });
          const payment = pick(open);
          if (!payment) return;
          const e = present(m.earnings.get(payment.paymentId), 'earning');
          const total =
            rand() < 0.4 ? e.paid : e.refundedTotal + BigInt(int(1, Number(e.paid - e.refundedTotal)));
          const debtBefore = m.debt;
          const availableBefore = m.balance().available;
          m.refund(payment.paymentId, total);
          if (m.debt > debtBefore) count('refund recorded debt');
          if (m.balance().available < availableBefore) count('refund took available');
          if (e.expiredAbsorbed > 0n) count('refund absorbed expiry');
          await h.refunded(payment, total);
          const { rows } = await h.pool.query<{ reversed: bigint; expired_absorbed: bigint }>(
            'SELECT reversed, expired_absorbed FROM earnings WHERE payment_id = $1',
            [payment.paymentId],
          );
          expect([label, seedNote(), rows[0]?.reversed, rows[0]?.expired_absorbed]).toEqual([
            label,
            seedNote(),
            e.reversed,
            e.expiredAbsorbed,
          ]);
          return;
        }
        case 'reserve': {
          const available = m.balance().available;
          const points = BigInt(int(1, Math.max(1, Math.floor(Number(available) * 1.2) + 10)));
          const requestId = randomUUID();
          const got = await refusalOf(
            api.reservePoints({
              requestId,
              redeemedAt: undefined,
              tenancy: { ...tenancy, merchantId: 'm-1' },
              holderId: m.holderId,
              points,
              reference: `order-${requestId}`,
              ttlSeconds: 3600,
            }),
          );
          const reservationId = got.res?.reservation?.reservationId ?? '';
          const want = m.reserve(reservationId, points);
          expectSame(label, got.refusal, want);
          if (want) count('reserve refused');
          return;
        }
        case 'confirm':
        case 'cancel': {
          const r = pick(m.heldReservations());
          if (!r) return;
          const req = { requestId: randomUUID(), tenancy, reservationId: r.reservationId };
          const got = await refusalOf(
            op === 'confirm' ? api.confirmReservation(req) : api.cancelReservation(req),
          );
          expectSame(
            label,
            got.refusal,
            op === 'confirm' ? m.confirm(r.reservationId) : m.end(r.reservationId, 'CANCELLED'),
          );
          if (rand() < 0.3) {
            // the same request again: the same answer, nothing changes
            const again = await refusalOf(
              op === 'confirm' ? api.confirmReservation(req) : api.cancelReservation(req),
            );
            expectSame(`${label} replay`, again.refusal, undefined);
            expect(again.res?.reservation?.status).toBe(got.res?.reservation?.status);
          }
          return;
        }
        case 'endAgain': {
          const ended = [...m.reservations.values()].filter((r) => r.status !== 'HELD');
          const r = pick(ended);
          if (!r) return;
          const asked = rand() < 0.5 ? 'confirm' : 'cancel';
          const req = { requestId: randomUUID(), tenancy, reservationId: r.reservationId };
          const got = await refusalOf(
            asked === 'confirm' ? api.confirmReservation(req) : api.cancelReservation(req),
          );
          expectSame(
            label,
            got.refusal,
            asked === 'confirm' ? m.confirm(r.reservationId) : m.end(r.reservationId, 'CANCELLED'),
          );
          return;
        }
        case 'lapseLot': {
          // not a lot with transfer relatives: they share its expiry, one cannot lapse alone
          const lot = pick(m.lots.filter((l) => !l.lapsed && l.lotId !== '' && !l.transferred));
          if (lot) due.lots.add(lot);
          return;
        }
        case 'lapseHold': {
          const r = pick(m.heldReservations());
          if (r) due.holds.add(r.reservationId);
          return;
        }
        case 'release': {
          const lot = pick(m.lots.filter((l) => l.status === 'PENDING' && l.lotId !== ''));
          if (lot) due.release.add(lot);
          return;
        }
        case 'transfer': {
          if (!sequential) {
            const to = pick(accounts.filter((a) => a !== m && a.policy === m.policy));
            const available = m.balance().available;
            if (to) due.transfers.push({ to, points: BigInt(int(1, Math.max(1, Number(available) + 50))) });
            return;
          }
          const t = present(due.transfers.shift(), 'transfer');
          const want = m.transferOut(t.points);
          const got = await refusalOf(
            api.transferPoints({
              requestId: randomUUID(),
              tenancy: { operatorId, projectId: '', merchantId: '' },
              fromHolderId: m.holderId,
              toHolderId: t.to.holderId,
              points: t.points,
              reason: 'MODEL',
            }),
          );
          expectSame(label, got.refusal, want.refusal);
          if (!got.res) {
            count('transfer refused');
            return;
          }
          expect([label, seedNote(), got.res.fromAvailable]).toEqual([
            label,
            seedNote(),
            m.balance().available,
          ]);
          const { rows } = await h.pool.query<{ lot_id: string; from_lot_id: string; amount: bigint }>(
            'SELECT lot_id, from_lot_id, amount FROM lots WHERE source_ref = $1',
            [got.res.transferId],
          );
          const byFrom = new Map(rows.map((r) => [r.from_lot_id, r]));
          t.to.transferIn(
            want.parts.map((p) => {
              const row = present(byFrom.get(p.from.lotId), `lot received from ${p.from.lotId}`);
              expect([label, seedNote(), row.amount]).toEqual([label, seedNote(), p.units]);
              return { ...p, lotId: row.lot_id };
            }),
          );
          expect([label, seedNote(), rows.length]).toEqual([label, seedNote(), want.parts.length]);
          return;
        }
        case 'budget': {
          const b = m.budget;
          const choice = rand();
          const allotted =
            choice < 0.5
              ? b.allotted + BigInt(int(1_000, 100_000))
              : choice < 0.8
                ? b.issued + BigInt(int(0, 5_000))
                : b.issued > 0n
                  ? b.issued - BigInt(int(1, Math.min(1_000, Number(b.issued))))
                  : b.allotted;
          const got = await refusalOf(api.setBudget({ requestId: randomUUID(), tenancy, period, allotted }));
          expectSame(label, got.refusal, m.setBudget(allotted));
          return;
        }
      }
    }
  };

  /** The passes for what the round made due, in the model's order: lot expiry, hold expiry, release. */
  const passTime = async (dues: Due[]) => {
    const lots = dues.flatMap((d) => [...d.lots]);
    if (lots.length) {
      await h.pool.query(
        `UPDATE lots SET expires_at = now() - interval '1 second' WHERE lot_id = ANY($1::uuid[])`,
        [lots.map((l) => l.lotId)],
      );
      while ((await jobs.expireDueLots(200)) > 0);
      dues.forEach((d, i) => present(accounts[i], 'account').lapse([...d.lots]));
    }
    const holds = dues.flatMap((d) => [...d.holds]);
    if (holds.length) {
      await h.pool.query(
        `UPDATE reservations SET expires_at = now() - interval '1 second'
          WHERE reservation_id = ANY($1::uuid[]) AND status = 1`,
        [holds],
      );
      while ((await jobs.expireDueReservations(100)) >= 100);
      dues.forEach((d, i) => {
        const m = present(accounts[i], 'account');
        for (const id of d.holds) if (m.reservations.get(id)?.status === 'HELD') m.end(id, 'EXPIRED');
      });
    }
    const release = dues.flatMap((d) => [...d.release]);
    if (release.length) {
      await h.pool.query(
        `UPDATE lots SET available_at = now() - interval '1 second' WHERE lot_id = ANY($1::uuid[])`,
        [release.map((l) => l.lotId)],
      );
      while ((await h.jobs.releaseDueLots(200)) > 0);
      dues.forEach((d, i) => present(accounts[i], 'account').release([...d.release]));
    }
  };

  const compareBalances = async (label: string) => {
    const got = await Promise.all(
      accounts.map(async (m) => {
        const b = await api.getBalance({
          tenancy: { operatorId: operatorOf(m), projectId: '', merchantId: '' },
          holderId: m.holderId,
        });
        return [
          m.holderId,
          { available: b.available, reserved: b.reserved, pending: b.pending, debt: b.debt },
        ];
      }),
    );
    const want = accounts.map((m) => [m.holderId, m.balance()]);
    expect([label, seedNote(), JSON.stringify(got, big)]).toEqual([
      label,
      seedNote(),
      JSON.stringify(want, big),
    ]);
  };

  const compareRows = async (label: string) => {
    const { rows: lots } = await h.pool.query<{
      holder_id: string;
      lot_id: string;
      amount: bigint;
      remaining: bigint;
      held: bigint;
      status: number;
    }>(
      `SELECT a.holder_id, l.lot_id, l.amount, l.remaining, l.held, l.status
         FROM lots l JOIN accounts a USING (account_id)
        WHERE a.operator_id = ANY($1) ORDER BY l.lot_id`,
      [[operators.debt, operators.forgive]],
    );
    const wantLots = accounts
      .flatMap((m) =>
        m.lots.map((l) => ({
          holder_id: m.holderId,
          lot_id: l.lotId,
          amount: l.amount,
          remaining: l.remaining,
          held: l.held,
          status: l.status === 'PENDING' ? 1 : 2,
        })),
      )
      .sort((a, b) => (a.lot_id < b.lot_id ? -1 : a.lot_id > b.lot_id ? 1 : 0));
    expect([label, seedNote(), JSON.stringify(lots, big)]).toEqual([
      label,
      seedNote(),
      JSON.stringify(wantLots, big),
    ]);

    const { rows: budgets } = await h.pool.query<{
      project_id: string;
      allotted: bigint;
      issued: bigint;
      redeemed: bigint;
      expired: bigint;
    }>(
      `SELECT project_id, allotted, issued, redeemed, expired FROM budgets
        WHERE operator_id = ANY($1) AND project_id <> '' AND period = $2 ORDER BY project_id`,
      [[operators.debt, operators.forgive], period],
    );
    const wantBudgets = [...accounts]
      .sort((a, b) => a.projectId.localeCompare(b.projectId))
      .map((m) => ({ project_id: m.projectId, ...m.budget }));
    expect([label, seedNote(), JSON.stringify(budgets, big)]).toEqual([
      label,
      seedNote(),
      JSON.stringify(wantBudgets, big),
    ]);

    const { rows: earnings } = await h.pool.query<{
      payment_id: string;
      points: bigint;
      debt_repaid: bigint;
      reversed: bigint;
      expired_absorbed: bigint;
    }>(
      `SELECT payment_id, points, debt_repaid, reversed, expired_absorbed FROM earnings
        WHERE operator_id = ANY($1) ORDER BY payment_id`,
      [[operators.debt, operators.forgive]],
    );
    const wantEarnings = accounts
      .flatMap((m) =>
        [...m.earnings.values()].map((e) => ({
          payment_id: e.paymentId,
          points: e.points,
          debt_repaid: e.debtRepaid,
          reversed: e.reversed,
          expired_absorbed: e.expiredAbsorbed,
        })),
      )
      .sort((a, b) => (a.payment_id < b.payment_id ? -1 : a.payment_id > b.payment_id ? 1 : 0));
    expect([label, seedNote(), JSON.stringify(earnings, big)]).toEqual([
      label,
      seedNote(),
      JSON.stringify(wantEarnings, big),
    ]);
    expect([label, seedNote(), await checkPointsInvariants(h.pool)]).toEqual([label, seedNote(), []]);
  };

  it(
    'every answer, balance, lot, budget and earning agrees with the model',
    async () => {
      const started = Date.now();
      const runners = accounts.map((m, i) => runner(m, i));
      const rounds = Math.ceil(OPERATIONS / (ACCOUNTS * PER_ACCOUNT));
      for (let round = 1; round <= rounds; round++) {
        const dues: Due[] = accounts.map(newDue);
        await timed('(rounds, wall)', () =>
          Promise.all(
            runners.map(async (run, i) => {
              for (let k = 0; k < PER_ACCOUNT; k++) await run(present(dues[i], 'due'));
            }),
          ),
        );
        await timed('(passes)', () => passTime(dues));
        // after the passes: a lot made due this round lapses before anything is transferred from it
        await timed('(two accounts)', async () => {
          for (const [i, due] of dues.entries()) {
            const run = present(runners[i], 'runner');
            while (due.transfers.length > 0) await run(due, 'transfer');
            for (; due.refunds > 0; due.refunds--) await run(due, 'refund');
          }
        });
        await timed('(balances)', () => compareBalances(`after round ${round}`));
        if (round % CHECKPOINT_ROUNDS === 0 || round === rounds)
          await timed('(checkpoints)', () => compareRows(`checkpoint at round ${round}`));
      }
      const operations = rounds * ACCOUNTS * PER_ACCOUNT;
      console.log(
        `points model test: ${operations} operations in ${((Date.now() - started) / 1000).toFixed(1)} s, ` +
          `seed ${SEED}: ${JSON.stringify(Object.fromEntries([...counts].sort()))}; ` +
          `ms spent: ${JSON.stringify(Object.fromEntries([...spent].sort()))}`,
      );
      expect(operations).toBeGreaterThanOrEqual(OPERATIONS);
    },
    30 * 60_000,
  );

  it(
    "settlement posts the run's events: its ledger check passes and each issuer's liability is the value of its outstanding lots",
    async () => {
      // settlement as its own process (built dist) on its own database, reading the run's points
      // topic from the beginning, as it would in the city
      const db = await createTestDatabase('pmodel_settlement');
      const settlement = await spawnService('settlement', {
        DATABASE_URL: db.url,
        KAFKA_TOPIC_PREFIX: h.topicPrefix,
        AUTH_JWKS_URL: h.issuer.jwksUrl,
        LOG_LEVEL: 'warn',
      });
      const ledger = new Pool({ connectionString: db.url, max: 2 });
      try {
        await settlement.ready();
        const posted = [
          PointsEvents.PointsIssued,
          PointsEvents.PointsEarned,
          PointsEvents.PointsReversed,
          PointsEvents.PointsExpired,
          PointsEvents.PointsRedeemed,
          PointsEvents.ClearingObligationCreated,
        ].map((e) => e.type);
        const { rows: outbox } = await h.pool.query<{ n: number }>(
          'SELECT count(*)::int AS n FROM outbox WHERE event_type = ANY($1)',
          [posted],
        );
        const want = present(outbox[0], 'outbox count').n;
        expect(want).toBeGreaterThan(OPERATIONS / 10);
        let applied = 0;
        await waitFor(
          `settlement applied ${want} points events`,
          async () => {
            const { rows } = await ledger.query<{ n: number }>(
              `SELECT count(*)::int AS n FROM inbox WHERE consumer = 'settlement.points'`,
            );
            applied = present(rows[0], 'inbox count').n;
            return applied >= want ? true : undefined;
          },
          Number(process.env.POINTS_MODEL_SETTLE_MS ?? 600_000),
          500,
        ).catch(async (err: Error) => {
          // which events points' relay has published and settlement applied, per type
          const { rows: outbox } = await h.pool.query<{ t: string; n: number; p: number }>(
            'SELECT event_type AS t, count(*)::int AS n, count(published_at)::int AS p FROM outbox GROUP BY 1 ORDER BY 1',
          );
          throw new Error(
            `${err.message} (applied ${applied}); outbox (type, rows, published): ${JSON.stringify(outbox)}`,
          );
        });
        const check = spawnSync(
          process.execPath,
          [
            join(REPO_ROOT, 'services', 'settlement', 'dist', 'admin.js'),
            'check-ledger',
            '--database',
            db.url,
          ],
          { encoding: 'utf8' },
        );
        const report = JSON.parse(check.stdout) as { ok: boolean; violations: unknown[] };
        expect([seedNote(), report.violations, check.status]).toEqual([seedNote(), [], 0]);

        // POINTS_LIABILITY (kind 8, credit normal) per issuer = Σ remaining of the lots it issued
        // (pending, available, held; received lots stay their issuer's), at 1 fen a point
        const { rows: lots } = await h.pool.query<{ operator_id: string; project_id: string; units: string }>(
          `SELECT issuer_operator_id AS operator_id, issuer_project_id AS project_id, sum(remaining)::text AS units
             FROM lots GROUP BY 1, 2 HAVING sum(remaining) <> 0 ORDER BY 1, 2`,
        );
        const { rows: liabilities } = await ledger.query<{
          operator_id: string;
          project_id: string;
          units: string;
        }>(
          `SELECT a.operator_id, a.project_id, (-sum(b.balance_minor))::text AS units
             FROM ledger_accounts a JOIN ledger_balances b USING (account_id)
            WHERE a.kind = 8 GROUP BY 1, 2 HAVING sum(b.balance_minor) <> 0 ORDER BY 1, 2`,
        );
        expect([seedNote(), liabilities]).toEqual([seedNote(), lots]);
        console.log(
          `points model test, settlement: ${want} events posted; liability of ${lots.length} issuers equals their lots`,
        );
      } finally {
        await ledger.end();
        await settlement.stop();
        await db.drop();
      }
    },
    15 * 60_000,
  );
});
