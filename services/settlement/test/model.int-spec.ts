import { randomUUID } from 'node:crypto';
import { status as GrpcStatus } from '@grpc/grpc-js';
import {
  AccountBalance,
  AccountKind,
  DisputeResolution,
  EscrowOrder,
  EscrowStatus,
  PayoutStatus,
  RefundDestination,
} from '@citybase/contracts/citybase/settlement/v1/settlement';
import { toTimestamp } from '@citybase/platform';
import { waitFor } from '@citybase/platform/testing';
import { checkLedgerInvariants } from '../src/ledger/invariants';
import { EscrowHarness, SettlementClient, startEscrowHarness } from './escrow-harness';
import { Model, ModelOrder, Rule, Status } from './model-reference';
import { rng } from './spec-helpers';

/**
 * A seeded randomized run of at least 10,000 operations against the real settlement process (its
 * own PostgreSQL database, Kafka, a fake payment that publishes PaymentSucceeded and answers the
 * channel instructions) and, side by side, the reference model of model-reference.ts: pay,
 * complete, dispute, resolve (release, refund, partial), refund before and after the split to the
 * channel or the wallet, payouts (paid or failed), wallet spends and withdrawals, and refusals
 * (completing what cannot complete, refunding more than is refundable, spending more than the
 * wallet has). Operations run in rounds, concurrently within a round but never two on one order
 * or one wallet, so the model's answer does not depend on timing. After every round the orders
 * touched must equal the model's; every 10 rounds and at the end every order, every account
 * balance and the ledger's invariants are compared.
 *
 * The seed is printed; MODEL_SEED=<seed> replays a run, MODEL_OPERATIONS=<n> sizes it.
 */
const SEED = Number(process.env.MODEL_SEED ?? Math.floor(Math.random() * 2 ** 31));
const OPERATIONS = Number(process.env.MODEL_OPERATIONS ?? 10_000);
const PER_ROUND = 125;

const OPERATOR = 'op-model';
const CHANNEL = 'sandbox-model';
const RULES: Record<string, Rule | undefined> = {
  'proj-a': { commissionBps: 1000, propertyShareBps: 500, taxBps: 300 },
  'proj-b': { commissionBps: 700, propertyShareBps: 0, taxBps: 600 },
  'proj-c': undefined, // no rule: the default splits nothing off
};
const PROJECTS = Object.keys(RULES);
const MERCHANTS = ['m-1', 'm-2', 'm-3'];
const PAYERS = Array.from({ length: 40 }, (_, i) => `resident-${i}`);
const ZERO_RULE: Rule = { commissionBps: 0, propertyShareBps: 0, taxBps: 0 };

const STATUS: Record<Status, EscrowStatus> = {
  HELD: EscrowStatus.ESCROW_STATUS_HELD,
  DISPUTED: EscrowStatus.ESCROW_STATUS_DISPUTED,
  COMPLETED: EscrowStatus.ESCROW_STATUS_COMPLETED,
  REFUNDED: EscrowStatus.ESCROW_STATUS_REFUNDED,
};

const codeOf = (err: unknown) => GrpcStatus[(err as { code?: number }).code ?? -1] ?? String(err);

describe(`settlement against a reference model (seed ${SEED}, ${OPERATIONS} operations)`, () => {
  let h: EscrowHarness;
  let api: SettlementClient;
  const model = new Model();
  const counts = new Map<string, number>();
  const count = (op: string) => counts.set(op, (counts.get(op) ?? 0) + 1);

  beforeAll(async () => {
    // auto-confirm exists (rules' deadlines are hours away) but must not act during the run
    h = await startEscrowHarness({ SETTLEMENT_AUTO_CONFIRM_INTERVAL_MS: '600000' });
    api = h.clientOf({ operators: [OPERATOR] }, [
      'settlement:read',
      'settlement:write',
      'settlement:configure',
      'settlement:mediate',
      'settlement:wallet',
      'settlement:payout',
    ]);
    for (const [projectId, rule] of Object.entries(RULES)) {
      if (!rule) continue;
      await api.setSplitRule({
        requestId: randomUUID(),
        rule: {
          operatorId: OPERATOR,
          projectId,
          merchantCategory: '',
          autoConfirmHours: 48,
          updatedAt: undefined,
          ...rule,
        },
      });
    }
    // eslint-disable-next-line no-console
    console.log(`settlement model test: MODEL_SEED=${SEED} MODEL_OPERATIONS=${OPERATIONS}`);
  }, 120_000);

  afterAll(async () => {
    await h?.stop();
  });

  const orderView = (o: ModelOrder) => ({
    status: EscrowStatus[STATUS[o.status]],
    paid: o.paid,
    held: o.held,
    released: o.released,
    refunded: o.refunded,
    refundPending: 0n,
    split: o.status === 'COMPLETED' || o.released > 0n ? o.parts : undefined,
  });
  const serviceView = (o: EscrowOrder) => {
    const split = Object.fromEntries(o.split.map((p) => [p.role, p.amount?.amountMinor ?? 0n]));
    return {
      status: EscrowStatus[o.status],
      paid: o.paid?.amountMinor ?? 0n,
      held: o.held?.amountMinor ?? 0n,
      released: o.released?.amountMinor ?? 0n,
      refunded: o.refunded?.amountMinor ?? 0n,
      refundPending: o.refundPending?.amountMinor ?? 0n,
      split:
        o.status === EscrowStatus.ESCROW_STATUS_COMPLETED || (o.released?.amountMinor ?? 0n) > 0n
          ? { merchant: 0n, property: 0n, commission: 0n, tax: 0n, ...split }
          : undefined,
    };
  };

  const listOrders = async (): Promise<Map<string, EscrowOrder>> => {
    const out = new Map<string, EscrowOrder>();
    for (const projectId of PROJECTS) {
      let pageToken = '';
      do {
        const res = await api.listEscrowOrders({
          operatorId: OPERATOR,
          projectId,
          status: EscrowStatus.ESCROW_STATUS_UNSPECIFIED,
          page: { pageSize: 500, pageToken },
        });
        for (const o of res.orders) out.set(o.orderId, o);
        pageToken = res.page?.nextPageToken ?? '';
      } while (pageToken);
    }
    return out;
  };

  /** Waits until the service shows each order as the model has it (async effects settle). */
  const converge = async (ids: Iterable<string>, label: string) => {
    const wanted = [...ids];
    let last: unknown[] = [];
    try {
      await waitFor(
        `${label}: orders agree with the model`,
        async () => {
          h.fake.check();
          const orders = await listOrders();
          last = wanted.flatMap((id) => {
            const m = model.orders.get(id)!;
            const s = orders.get(id);
            const want = orderView(m);
            const got = s ? serviceView(s) : undefined;
            return JSON.stringify(got, big) === JSON.stringify(want, big) ? [] : [{ id, want, got }];
          });
          return last.length === 0 || undefined;
        },
        60_000,
        100,
      );
    } catch (err) {
      throw new Error(
        `${(err as Error).message}\nseed ${SEED}; first differences: ${JSON.stringify(last.slice(0, 5), big, 1)}`,
      );
    }
  };

  const compareBalances = async (label: string) => {
    const accounts: AccountBalance[] = [];
    let pageToken = '';
    do {
      const res = await api.listAccounts({
        operatorId: OPERATOR,
        projectId: '',
        kind: AccountKind.ACCOUNT_KIND_UNSPECIFIED,
        ownerRef: '',
        page: { pageSize: 500, pageToken },
      });
      accounts.push(...res.accounts);
      pageToken = res.page?.nextPageToken ?? '';
    } while (pageToken);
    const got = new Map<string, bigint>();
    const held = new Map<string, bigint>();
    for (const a of accounts) {
      const acc = a.account!;
      const kind = AccountKind[acc.kind].replace('ACCOUNT_KIND_', '');
      const key = Model.key(kind, acc.tenancy?.projectId, acc.tenancy?.merchantId, acc.ownerRef);
      if (a.balance!.amountMinor !== 0n) got.set(key, a.balance!.amountMinor);
      if (a.held!.amountMinor !== 0n) held.set(key, a.held!.amountMinor);
    }
    const sorted = (m: Map<string, bigint>) => [...m].sort(([a], [b]) => a.localeCompare(b));
    expect([label, seedNote(), sorted(got)]).toEqual([label, seedNote(), sorted(model.balances)]);
    expect([label, seedNote(), sorted(held)]).toEqual([label, seedNote(), sorted(model.held)]);
    const report = await checkLedgerInvariants(h.pool);
    expect([label, seedNote(), report.violations]).toEqual([label, seedNote(), []]);
  };
  const seedNote = () => `MODEL_SEED=${SEED}`;

  it('agrees exactly with the reference model', async () => {
    const rand = rng(SEED);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
    const amount = (max: bigint) => 1n + BigInt(Math.floor(rand() * Number(max)));
    const ruleOf = (projectId: string) => RULES[projectId] ?? ZERO_RULE;
    const pendingWithdrawals: { payoutId: string; payer: string; amount: bigint }[] = [];
    let done = 0;
    let round = 0;

    while (done < OPERATIONS) {
      round++;
      const touchedOrders = new Set<string>();
      const touchedWallets = new Set<string>();
      const ops: (() => Promise<void>)[] = [];
      const orders = [...model.orders.values()];
      const free = (o: ModelOrder) => !touchedOrders.has(o.orderId);
      const walletFree = (payer: string) => !touchedWallets.has(payer);

      for (let i = 0; i < PER_ROUND; i++) {
        const r = rand();
        const held = orders.filter((o) => o.status === 'HELD' && free(o));
        const disputed = orders.filter((o) => o.status === 'DISPUTED' && free(o));
        const completed = orders.filter((o) => o.status === 'COMPLETED' && free(o) && o.refunded < o.paid);
        if (r < 0.22 || orders.length < 30) {
          // pay: PaymentSucceeded from payment
          const o = {
            orderId: randomUUID(),
            projectId: pick(PROJECTS),
            merchantId: pick(MERCHANTS),
            payerRef: pick(PAYERS),
            profitSharing: rand() < 0.5,
            paid: amount(50_000n),
          };
          touchedOrders.add(o.orderId);
          model.pay(o, CHANNEL);
          count('pay');
          ops.push(async () => {
            await h.fake.paymentSucceeded({
              paymentId: o.orderId,
              tenancy: { operatorId: OPERATOR, projectId: o.projectId, merchantId: o.merchantId },
              merchantId: o.merchantId,
              amount: { currency: 'CNY', amountMinor: o.paid },
              channel: CHANNEL,
              profitSharing: o.profitSharing,
              payerRef: o.payerRef,
              occurredAt: toTimestamp(new Date()),
            });
          });
        } else if (r < 0.42 && held.length) {
          const o = pick(held);
          touchedOrders.add(o.orderId);
          model.complete(o.orderId, ruleOf(o.projectId));
          count('complete');
          ops.push(async () => {
            await api.completeOrder({ requestId: randomUUID(), orderId: o.orderId });
          });
        } else if (r < 0.5 && held.length) {
          const o = pick(held);
          touchedOrders.add(o.orderId);
          o.status = 'DISPUTED';
          count('dispute');
          ops.push(async () => {
            await api.openDispute({ requestId: randomUUID(), orderId: o.orderId, reason: 'not delivered' });
          });
        } else if (r < 0.58 && disputed.length) {
          const o = pick(disputed);
          const toWallet = rand() < 0.5;
          if (toWallet && !walletFree(o.payerRef)) continue;
          touchedOrders.add(o.orderId);
          if (toWallet) touchedWallets.add(o.payerRef);
          const kind = pick(['release', 'refund', 'partial'] as const);
          const dest = toWallet ? 'wallet' : 'original';
          const partial = o.held > 1n ? 1n + BigInt(Math.floor(rand() * Number(o.held - 1n))) : 0n;
          const resolution =
            kind === 'release' || (kind === 'partial' && partial === 0n)
              ? DisputeResolution.DISPUTE_RESOLUTION_RELEASE
              : kind === 'refund'
                ? DisputeResolution.DISPUTE_RESOLUTION_REFUND
                : DisputeResolution.DISPUTE_RESOLUTION_PARTIAL;
          if (resolution === DisputeResolution.DISPUTE_RESOLUTION_RELEASE)
            model.complete(o.orderId, ruleOf(o.projectId));
          else if (resolution === DisputeResolution.DISPUTE_RESOLUTION_REFUND)
            model.refund(o.orderId, o.held, dest, CHANNEL);
          else {
            model.refund(o.orderId, partial, dest, CHANNEL);
            model.complete(o.orderId, ruleOf(o.projectId));
          }
          count(`resolve_${kind}`);
          ops.push(async () => {
            await api.resolveDispute({
              requestId: randomUUID(),
              orderId: o.orderId,
              resolution,
              refundAmount:
                resolution === DisputeResolution.DISPUTE_RESOLUTION_PARTIAL
                  ? { currency: 'CNY', amountMinor: partial }
                  : undefined,
              note: 'mediated',
              refundDestination: toWallet
                ? RefundDestination.REFUND_DESTINATION_WALLET
                : RefundDestination.REFUND_DESTINATION_ORIGINAL,
            });
          });
        } else if (r < 0.72 && (held.length || completed.length)) {
          // refund before (held) or after (completed) the split; sometimes more than refundable
          const o = pick(rand() < 0.5 && completed.length ? completed : held.length ? held : completed);
          const toWallet = rand() < 0.4;
          if (toWallet && !walletFree(o.payerRef)) continue;
          touchedOrders.add(o.orderId);
          if (toWallet) touchedWallets.add(o.payerRef);
          const refundable = o.paid - o.refunded;
          const tooMuch = rand() < 0.05;
          const amt = tooMuch ? refundable + 1n : amount(refundable);
          const after = o.status === 'COMPLETED';
          if (!tooMuch) model.refund(o.orderId, amt, toWallet ? 'wallet' : 'original', CHANNEL);
          count(
            tooMuch
              ? 'refund_refused'
              : `refund_${after ? 'after' : 'before'}_split_${toWallet ? 'wallet' : 'original'}`,
          );
          ops.push(async () => {
            const call = api.refundOrder({
              requestId: randomUUID(),
              orderId: o.orderId,
              amount: { currency: 'CNY', amountMinor: amt },
              destination: toWallet
                ? RefundDestination.REFUND_DESTINATION_WALLET
                : RefundDestination.REFUND_DESTINATION_ORIGINAL,
              reason: 'model',
            });
            if (tooMuch) await expect(call.catch(codeOf)).resolves.toBe('FAILED_PRECONDITION');
            else await call;
          });
        } else if (r < 0.76 && orders.some((o) => o.status === 'REFUNDED' && free(o))) {
          // refusal: a refunded order cannot complete
          const o = pick(orders.filter((x) => x.status === 'REFUNDED' && free(x)));
          touchedOrders.add(o.orderId);
          count('complete_refused');
          ops.push(async () => {
            await expect(
              api.completeOrder({ requestId: randomUUID(), orderId: o.orderId }).catch(codeOf),
            ).resolves.toBe('FAILED_PRECONDITION');
          });
        } else {
          // wallet: pay a property fee, or withdraw (confirmed at the next payout phase)
          const withMoney = PAYERS.filter(
            (p) => walletFree(p) && model.available(Model.key('RESIDENT_WALLET', '', '', p)) > 0n,
          );
          if (!withMoney.length) continue;
          const payer = pick(withMoney);
          touchedWallets.add(payer);
          const key = Model.key('RESIDENT_WALLET', '', '', payer);
          const available = model.available(key);
          const overspend = rand() < 0.1;
          const amt = overspend ? available + amount(1_000n) : amount(available);
          if (rand() < 0.6) {
            const projectId = pick(PROJECTS);
            if (!overspend) {
              model.add(key, -amt);
              model.add(Model.key('PROPERTY_SHARE', projectId), amt);
            }
            count(overspend ? 'wallet_fee_refused' : 'wallet_fee');
            ops.push(async () => {
              const call = api.payPropertyFeeFromWallet({
                requestId: randomUUID(),
                operatorId: OPERATOR,
                projectId,
                ownerRef: payer,
                amount: { currency: 'CNY', amountMinor: amt },
                billRef: `bill-${round}-${i}`,
              });
              if (overspend) await expect(call.catch(codeOf)).resolves.toBe('FAILED_PRECONDITION');
              else await call;
            });
          } else {
            if (!overspend) model.hold(key, amt);
            count(overspend ? 'withdraw_refused' : 'withdraw');
            ops.push(async () => {
              const call = api.withdrawFromWallet({
                requestId: randomUUID(),
                operatorId: OPERATOR,
                ownerRef: payer,
                amount: { currency: 'CNY', amountMinor: amt },
                bankAccount: '6222020000001234',
              });
              if (overspend) {
                await expect(call.catch(codeOf)).resolves.toBe('FAILED_PRECONDITION');
              } else {
                const { payout } = await call;
                pendingWithdrawals.push({ payoutId: payout!.payoutId, payer, amount: amt });
              }
            });
          }
        }
      }

      // 16 at a time; no two of a round touch one order or one wallet
      await runLimited(ops, 16);
      done += ops.length;
      await converge(touchedOrders, `round ${round}`);

      if (round % 5 === 0) {
        // payout phase: each project's merchants are paid what they have available; 3 in 4 succeed
        for (const projectId of PROJECTS) {
          const res = await api.runPayoutCycle({
            requestId: randomUUID(),
            operatorId: OPERATOR,
            projectId,
            currency: 'CNY',
          });
          const expected = MERCHANTS.flatMap((m) => {
            const available = model.available(Model.key('MERCHANT_PAYABLE', projectId, m));
            return available > 0n ? [[m, available] as const] : [];
          });
          const got = res.payouts.map((p) => [p.tenancy?.merchantId ?? '', p.amount!.amountMinor] as const);
          expect([seedNote(), round, projectId, got.sort()]).toEqual([
            seedNote(),
            round,
            projectId,
            expected.sort(),
          ]);
          for (const p of res.payouts) {
            const m = p.tenancy!.merchantId;
            const paid = rand() < 0.75;
            if (paid) {
              model.add(Model.key('MERCHANT_PAYABLE', projectId, m), -p.amount!.amountMinor);
              model.add(Model.key('BANK'), -p.amount!.amountMinor);
            }
            count(paid ? 'payout_paid' : 'payout_failed');
            const { payout } = await api.confirmPayout({
              requestId: randomUUID(),
              payoutId: p.payoutId,
              succeeded: paid,
              bankReference: paid ? `bank-${p.payoutId.slice(0, 8)}` : '',
              failureReason: paid ? '' : 'account closed',
            });
            expect(payout!.status).toBe(
              paid ? PayoutStatus.PAYOUT_STATUS_PAID : PayoutStatus.PAYOUT_STATUS_FAILED,
            );
            done++;
          }
        }
        for (const w of pendingWithdrawals.splice(0)) {
          const key = Model.key('RESIDENT_WALLET', '', '', w.payer);
          const paid = rand() < 0.75;
          model.hold(key, -w.amount);
          if (paid) {
            model.add(key, -w.amount);
            model.add(Model.key('BANK'), -w.amount);
          }
          count(paid ? 'withdraw_paid' : 'withdraw_failed');
          await api.confirmPayout({
            requestId: randomUUID(),
            payoutId: w.payoutId,
            succeeded: paid,
            bankReference: paid ? 'bank-w' : '',
            failureReason: paid ? '' : 'account closed',
          });
          done++;
        }
      }
      if (round % 10 === 0) {
        await converge(model.orders.keys(), `round ${round} (all orders)`);
        await compareBalances(`round ${round}`);
      }
    }
    await converge(model.orders.keys(), 'end (all orders)');
    await compareBalances('end');
    const summary = [...counts].sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => `${k} ${v}`);
    // eslint-disable-next-line no-console
    console.log(
      `MODEL_SEED=${SEED}: ${done} operations in ${round} rounds agree with the model: ${summary.join(', ')}`,
    );
    expect(done).toBeGreaterThanOrEqual(OPERATIONS);
    expect(counts.get('refund_after_split_original') ?? 0).toBeGreaterThan(0);
    expect(counts.get('refund_before_split_wallet') ?? 0).toBeGreaterThan(0);
  }, 1_500_000);
});

function big(_k: string, v: unknown): unknown {
  return typeof v === 'bigint' ? v.toString() : v;
}

/** Runs the operations, `limit` at a time, in order of start; rejects with the first failure. */
async function runLimited(ops: (() => Promise<void>)[], limit: number): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, ops.length) }, async () => {
      for (let i = next++; i < ops.length; i = next++) await ops[i]!();
    }),
  );
}
