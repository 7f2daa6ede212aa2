import { randomUUID } from 'node:crypto';
import { withTransaction } from '@citybase/platform';
import { uniqueName, waitFor } from '@citybase/platform/testing';
import {
  AccountKind,
  PayoutStatus,
  ReconciliationIssue,
} from '@citybase/contracts/citybase/settlement/v1/settlement';
import { checkLedgerInvariants } from '../src/ledger/invariants';
import { balanceOf, placeHold, reverse } from '../src/ledger/ledger.store';
import {
  accountId,
  creditMerchant,
  creditWallet,
  errorCode,
  errorField,
  grpcError,
  keys,
  payoutEvents,
  PayoutsHarness,
  rowCounts,
  SettlementClient,
  startPayoutsHarness,
  statementDay,
  status,
  transfer,
} from './payouts-harness';
import { onFebruary30 } from './spec-helpers';

const OP = 'op-1';
const FOREIGN_OP = 'op-2';
const cny = (amountMinor: bigint) => ({ currency: 'CNY', amountMinor });

describe('settlement: payouts, wallets, hold expiry, reconciliation (in-process service)', () => {
  let h: PayoutsHarness;
  let app: SettlementClient;

  beforeAll(async () => {
    h = await startPayoutsHarness({ SETTLEMENT_HOLD_EXPIRY_INTERVAL_MS: '200' });
    app = h.clientOf({ operators: [OP] });
  });

  // the invariants after every test, not only at the end
  afterEach(async () => {
    expect((await checkLedgerInvariants(h.pool)).violations).toEqual([]);
  });

  afterAll(async () => {
    if (h) {
      const report = await checkLedgerInvariants(h.pool);
      await h.stop();
      expect(report.violations).toEqual([]);
    }
  });

  const balance = async (key: Parameters<typeof accountId>[1]) =>
    (await balanceOf(h.pool, await accountId(h.pool, key)))!;

  const cycle = (projectId: string, requestId = uniqueName('cycle')) =>
    app.runPayoutCycle({ requestId, operatorId: OP, projectId, currency: 'CNY' });

  const confirmPaid = (payoutId: string, bankReference = 'BANK-1', requestId = uniqueName('confirm')) =>
    app.confirmPayout({ requestId, payoutId, succeeded: true, bankReference, failureReason: '' });

  const confirmFailed = (
    payoutId: string,
    failureReason = 'account closed',
    requestId = uniqueName('confirm'),
  ) => app.confirmPayout({ requestId, payoutId, succeeded: false, bankReference: '', failureReason });

  const withdraw = (ownerRef: string, amount: bigint, requestId = uniqueName('withdraw')) =>
    app.withdrawFromWallet({
      requestId,
      operatorId: OP,
      ownerRef,
      amount: cny(amount),
      bankAccount: '6222021234567890123',
    });

  const payFee = (
    ownerRef: string,
    amount: bigint,
    billRef = uniqueName('bill'),
    requestId = uniqueName('fee'),
  ) =>
    app.payPropertyFeeFromWallet({
      requestId,
      operatorId: OP,
      projectId: 'proj-w',
      ownerRef,
      amount: cny(amount),
      billRef,
    });

  it('a payout cycle holds each merchant payable; paid posts to the bank, failed releases the hold', async () => {
    const project = 'proj-cycle';
    await creditMerchant(h.pool, { operatorId: OP, projectId: project, merchantId: 'm-1', amount: 10_000n });
    await creditMerchant(h.pool, { operatorId: OP, projectId: project, merchantId: 'm-2', amount: 5_000n });
    // a merchant of another project is not in this cycle
    await creditMerchant(h.pool, {
      operatorId: OP,
      projectId: 'proj-other',
      merchantId: 'm-9',
      amount: 700n,
    });
    const requestId = uniqueName('cycle');
    const before = Date.now();
    const first = await cycle(project, requestId);
    expect(first.batchId).toMatch(/^[0-9a-f-]{36}$/);
    const byMerchant = new Map(first.payouts.map((p) => [p.tenancy!.merchantId, p]));
    expect([...byMerchant.keys()].sort()).toEqual(['m-1', 'm-2']);
    const p1 = byMerchant.get('m-1')!;
    const p2 = byMerchant.get('m-2')!;
    expect(p1).toMatchObject({
      batchId: first.batchId,
      tenancy: { operatorId: OP, projectId: project, merchantId: 'm-1' },
      accountKind: AccountKind.ACCOUNT_KIND_MERCHANT_PAYABLE,
      amount: cny(10_000n),
      status: PayoutStatus.PAYOUT_STATUS_PENDING,
      bankReference: '',
      settledAt: undefined,
    });
    // the hold lasts SETTLEMENT_PAYOUT_HOLD_HOURS (72 by default)
    const expiresMs = Number(p1.expiresAt!.seconds) * 1000;
    expect(expiresMs).toBeGreaterThanOrEqual(before + 72 * 3_600_000 - 2_000);
    expect(expiresMs).toBeLessThanOrEqual(Date.now() + 72 * 3_600_000 + 2_000);
    expect(await balance(keys.merchant(OP, project, 'm-1'))).toMatchObject({
      balanceMinor: 10_000n,
      heldMinor: 10_000n,
      availableMinor: 0n,
    });

    // the same request again: the same batch; another request finds nothing left to pay
    const again = await cycle(project, requestId);
    expect(again.batchId).toBe(first.batchId);
    expect(again.payouts.map((p) => p.payoutId).sort()).toEqual([p1.payoutId, p2.payoutId].sort());
    expect((await cycle(project)).payouts).toEqual([]);
    const reused = await grpcError(
      app.runPayoutCycle({ requestId, operatorId: OP, projectId: project, currency: 'USD' }),
    );
    expect(reused.code).toBe(status.ALREADY_EXISTS);
    expect(errorCode(reused)).toBe('REQUEST_ID_REUSED');

    // the bank paid m-1: Dr merchant payable / Cr bank
    const confirmRequest = uniqueName('confirm');
    const paid = (await confirmPaid(p1.payoutId, 'BANK-REF-1', confirmRequest)).payout!;
    expect(paid).toMatchObject({ status: PayoutStatus.PAYOUT_STATUS_PAID, bankReference: 'BANK-REF-1' });
    expect(paid.settledAt).toBeDefined();
    expect(await balance(keys.merchant(OP, project, 'm-1'))).toMatchObject({
      balanceMinor: 0n,
      heldMinor: 0n,
    });
    expect((await balance(keys.bank(OP))).balanceMinor).toBe(-10_000n);
    const [settled, ...more] = await payoutEvents(h.pool, p1.payoutId);
    expect(more).toEqual([]);
    expect(settled).toMatchObject({
      payoutId: p1.payoutId,
      tenancy: { operatorId: OP, projectId: project, merchantId: 'm-1' },
      accountId: p1.accountId,
      amount: cny(10_000n),
      outcome: 'paid',
    });
    const { rows } = await h.pool.query<{ kind: string; reference: string }>(
      'SELECT kind, reference FROM ledger_transactions WHERE tx_id = $1',
      [settled!.transactionId],
    );
    expect(rows[0]).toEqual({ kind: 'payout', reference: p1.payoutId });

    // repeats: the same request, and the same answer under a new request, change nothing
    expect((await confirmPaid(p1.payoutId, 'BANK-REF-1', confirmRequest)).payout).toEqual(paid);
    expect((await confirmPaid(p1.payoutId, 'BANK-REF-1')).payout).toEqual(paid);
    for (const contradiction of [confirmFailed(p1.payoutId), confirmPaid(p1.payoutId, 'OTHER-REF')]) {
      const err = await grpcError(contradiction);
      expect(err.code).toBe(status.FAILED_PRECONDITION);
      expect(errorCode(err)).toBe('PAYOUT_ALREADY_SETTLED');
    }
    expect(await payoutEvents(h.pool, p1.payoutId)).toHaveLength(1);

    // the transfer to m-2 failed: the hold is released, the money waits for the next cycle
    const failed = (await confirmFailed(p2.payoutId)).payout!;
    expect(failed.status).toBe(PayoutStatus.PAYOUT_STATUS_FAILED);
    expect(failed.failureReason).toBe('account closed');
    expect(paid.failureReason).toBe('');
    expect(await balance(keys.merchant(OP, project, 'm-2'))).toMatchObject({
      balanceMinor: 5_000n,
      heldMinor: 0n,
      availableMinor: 5_000n,
    });
    expect((await payoutEvents(h.pool, p2.payoutId)).map((e) => [e.outcome, e.transactionId])).toEqual([
      ['failed', ''],
    ]);
    expect((await confirmFailed(p2.payoutId, 'again')).payout!.status).toBe(
      PayoutStatus.PAYOUT_STATUS_FAILED,
    );
    const late = await grpcError(confirmPaid(p2.payoutId));
    expect(late.code).toBe(status.FAILED_PRECONDITION);
    const next = await cycle(project);
    expect(next.payouts.map((p) => [p.tenancy!.merchantId, p.amount!.amountMinor])).toEqual([
      ['m-2', 5_000n],
    ]);

    // lists: by batch, paged newest first
    const listed = await app.listPayouts({
      operatorId: OP,
      projectId: '',
      batchId: first.batchId,
      page: undefined,
    });
    expect(listed.payouts.map((p) => p.payoutId).sort()).toEqual([p1.payoutId, p2.payoutId].sort());
    const page1 = await app.listPayouts({
      operatorId: OP,
      projectId: project,
      batchId: '',
      page: { pageSize: 2, pageToken: '' },
    });
    expect(page1.payouts).toHaveLength(2);
    expect(page1.page!.nextPageToken).not.toBe('');
    const page2 = await app.listPayouts({
      operatorId: OP,
      projectId: project,
      batchId: '',
      page: { pageSize: 2, pageToken: page1.page!.nextPageToken },
    });
    expect(page2.payouts).toHaveLength(1);
    expect(page2.page!.nextPageToken).toBe('');
    // a token of this list naming a day that does not exist is the caller's mistake, not INTERNAL
    const feb30 = await grpcError(
      app.listPayouts({
        operatorId: OP,
        projectId: project,
        batchId: '',
        page: { pageSize: 2, pageToken: onFebruary30(page1.page!.nextPageToken) },
      }),
    );
    expect({ code: feb30.code, field: errorField(feb30) }).toEqual({
      code: status.INVALID_ARGUMENT,
      field: 'page.page_token',
    });
    const all = [...page1.payouts, ...page2.payouts].map((p) => p.payoutId);
    expect(new Set(all).size).toBe(3);
    expect(all[0]).toBe(next.payouts[0]!.payoutId); // newest first
  });

  it('concurrent repeats of one cycle request make one batch', async () => {
    const project = 'proj-cycle-race';
    await creditMerchant(h.pool, { operatorId: OP, projectId: project, merchantId: 'm-1', amount: 900n });
    const requestId = uniqueName('cycle');
    const results = await Promise.all(Array.from({ length: 8 }, () => cycle(project, requestId)));
    expect(new Set(results.map((r) => r.batchId)).size).toBe(1);
    for (const r of results) expect(r.payouts.map((p) => p.amount!.amountMinor)).toEqual([900n]);
    const { rows } = await h.pool.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM payouts WHERE project_id = $1',
      [project],
    );
    expect(rows[0]!.n).toBe(1);

    // concurrent cycles under different requests: each merchant's money is held once
    await creditMerchant(h.pool, { operatorId: OP, projectId: project, merchantId: 'm-2', amount: 300n });
    await creditMerchant(h.pool, { operatorId: OP, projectId: project, merchantId: 'm-3', amount: 200n });
    const cycles = await Promise.all(Array.from({ length: 6 }, () => cycle(project)));
    const held = cycles.flatMap((c) => c.payouts.map((p) => [p.tenancy!.merchantId, p.amount!.amountMinor]));
    expect(held.sort()).toEqual([
      ['m-2', 300n],
      ['m-3', 200n],
    ]);
    expect(await balance(keys.merchant(OP, project, 'm-2'))).toMatchObject({
      heldMinor: 300n,
      availableMinor: 0n,
    });
  });

  it('wallets: a new wallet reads zero without being created; withdrawal holds, masks and pays out', async () => {
    const resident = uniqueName('resident');
    const accountsBefore = await h.pool.query('SELECT count(*) FROM ledger_accounts');
    const empty = (await app.getWallet({ operatorId: OP, ownerRef: resident, currency: 'CNY' })).wallet!;
    expect(empty).toMatchObject({
      account: {
        accountId: '',
        kind: AccountKind.ACCOUNT_KIND_RESIDENT_WALLET,
        tenancy: { operatorId: OP },
        ownerRef: resident,
        currency: 'CNY',
        normalSide: 'credit',
        mustNotGoNegative: true,
      },
      balance: cny(0n),
      held: cny(0n),
      available: cny(0n),
      asOf: undefined,
    });
    expect((await h.pool.query('SELECT count(*) FROM ledger_accounts')).rows).toEqual(accountsBefore.rows);
    // nothing to withdraw from a wallet that does not exist (and it is not created)
    const none = await grpcError(withdraw(resident, 1n));
    expect(none.code).toBe(status.FAILED_PRECONDITION);
    expect(errorCode(none)).toBe('INSUFFICIENT_FUNDS');

    await creditWallet(h.pool, { operatorId: OP, ownerRef: resident, amount: 1_000n });
    const requestId = uniqueName('withdraw');
    const { payout } = await withdraw(resident, 400n, requestId);
    expect(payout).toMatchObject({
      batchId: '',
      tenancy: { operatorId: OP, projectId: '', merchantId: '' },
      accountKind: AccountKind.ACCOUNT_KIND_RESIDENT_WALLET,
      amount: cny(400n),
      status: PayoutStatus.PAYOUT_STATUS_PENDING,
      bankAccount: '****0123',
    });
    expect((await withdraw(resident, 400n, requestId)).payout).toEqual(payout);
    const wallet = (await app.getWallet({ operatorId: OP, ownerRef: resident, currency: 'CNY' })).wallet!;
    expect(wallet).toMatchObject({ balance: cny(1_000n), held: cny(400n), available: cny(600n) });
    expect(wallet.account!.accountId).toBe(payout!.accountId);
    expect(wallet.asOf).toBeDefined();
    // more than is available (the pending withdrawal holds 400)
    const over = await grpcError(withdraw(resident, 601n));
    expect(over.code).toBe(status.FAILED_PRECONDITION);
    expect(errorCode(over)).toBe('INSUFFICIENT_FUNDS');

    const paid = (await confirmPaid(payout!.payoutId, 'WD-1')).payout!;
    expect(paid).toMatchObject({ status: PayoutStatus.PAYOUT_STATUS_PAID, bankAccount: '****0123' });
    expect(
      (await app.getWallet({ operatorId: OP, ownerRef: resident, currency: 'CNY' })).wallet,
    ).toMatchObject({
      balance: cny(600n),
      held: cny(0n),
      available: cny(600n),
    });
    expect((await payoutEvents(h.pool, payout!.payoutId)).map((e) => e.outcome)).toEqual(['paid']);
    // the account in clear is in no answer, no row and no log line
    const stored = await h.pool.query(`SELECT * FROM payouts WHERE bank_account LIKE '%62220212%'`);
    expect(stored.rowCount).toBe(0);
    expect(h.svc.output()).not.toContain('6222021234567890123');
  });

  it('pays a property fee from a wallet at once; repeats answer the same; a bill is paid once', async () => {
    const resident = uniqueName('resident');
    await creditWallet(h.pool, { operatorId: OP, ownerRef: resident, amount: 1_000n });
    const billRef = uniqueName('bill');
    const requestId = uniqueName('fee');
    const first = await payFee(resident, 300n, billRef, requestId);
    expect(first.transaction).toMatchObject({
      kind: 'property_fee',
      tenancy: { operatorId: OP, projectId: 'proj-w' },
      reference: billRef,
    });
    const postings = first.transaction!.postings.map((p) => [p.accountKind, p.amount!.amountMinor]).sort();
    expect(postings).toEqual(
      [
        [AccountKind.ACCOUNT_KIND_PROPERTY_SHARE, -300n],
        [AccountKind.ACCOUNT_KIND_RESIDENT_WALLET, 300n],
      ].sort(),
    );
    expect(first.wallet).toMatchObject({ balance: cny(700n), available: cny(700n) });
    expect((await balance(keys.propertyShare(OP, 'proj-w'))).balanceMinor).toBeGreaterThanOrEqual(300n);

    const again = await payFee(resident, 300n, billRef, requestId);
    expect(again.transaction!.transactionId).toBe(first.transaction!.transactionId);
    const counts = await rowCounts(h.pool);
    const twice = await grpcError(payFee(resident, 300n, billRef));
    expect(twice.code).toBe(status.FAILED_PRECONDITION);
    expect(errorCode(twice)).toBe('BILL_ALREADY_PAID');
    // more than the wallet has: refused, nothing written
    const over = await grpcError(payFee(resident, 701n));
    expect(over.code).toBe(status.FAILED_PRECONDITION);
    expect(errorCode(over)).toBe('INSUFFICIENT_FUNDS');
    expect(await rowCounts(h.pool)).toEqual(counts);
    expect((await balance(keys.wallet(OP, resident))).balanceMinor).toBe(700n);
  });

  it('200 concurrent withdrawals and fee payments never take one wallet below zero', async () => {
    const resident = uniqueName('resident');
    const INITIAL = 10_000n;
    await creditWallet(h.pool, { operatorId: OP, ownerRef: resident, amount: INITIAL });
    // withdrawals of 20..69 and fee payments of 60..259: together they ask about twice the balance
    const amounts = Array.from({ length: 200 }, (_, i) =>
      i % 2 === 0 ? BigInt(20 + ((i * 7919) % 50)) : BigInt(60 + ((i * 7919) % 200)),
    );
    const results = await Promise.allSettled(
      amounts.map((amount, i) => (i % 2 === 0 ? withdraw(resident, amount) : payFee(resident, amount))),
    );
    let withdrawn = 0n;
    let paidFees = 0n;
    const withdrawals: string[] = [];
    results.forEach((r, i) => {
      if (r.status === 'fulfilled') {
        if (i % 2 === 0) {
          withdrawn += amounts[i]!;
          withdrawals.push((r.value as { payout?: { payoutId: string } }).payout!.payoutId);
        } else paidFees += amounts[i]!;
      } else {
        const err = r.reason as { code: number; metadata: { get(k: string): unknown[] } };
        expect(err.code).toBe(status.FAILED_PRECONDITION);
        expect(err.metadata.get('citybase-error-code')[0]).toBe('INSUFFICIENT_FUNDS');
      }
    });
    const accepted = withdrawn + paidFees;
    expect(results.some((r) => r.status === 'rejected')).toBe(true); // they ask far more than 10,000
    expect(withdrawals.length).toBeGreaterThan(0);
    expect(paidFees).toBeGreaterThan(0n);
    expect(accepted).toBeLessThanOrEqual(INITIAL);
    expect(await balance(keys.wallet(OP, resident))).toMatchObject({
      balanceMinor: INITIAL - paidFees,
      heldMinor: withdrawn,
      availableMinor: INITIAL - accepted,
    });
    // half the withdrawals are paid, half fail: the wallet ends at what was not paid out
    let paidOut = 0n;
    await Promise.all(
      withdrawals.map(async (payoutId, i) => {
        if (i % 2 === 0) {
          const p = (await confirmPaid(payoutId)).payout!;
          paidOut += p.amount!.amountMinor;
        } else await confirmFailed(payoutId);
      }),
    );
    expect(await balance(keys.wallet(OP, resident))).toMatchObject({
      balanceMinor: INITIAL - paidFees - paidOut,
      heldMinor: 0n,
    });
    expect((await checkLedgerInvariants(h.pool)).violations).toEqual([]);
  });

  it('expires holds nobody confirmed in time: payouts EXPIRED, PayoutSettled "expired", money available again', async () => {
    const resident = uniqueName('resident');
    await creditWallet(h.pool, { operatorId: OP, ownerRef: resident, amount: 500n });
    const { payout: wd } = await withdraw(resident, 200n);
    const project = 'proj-expiry';
    await creditMerchant(h.pool, { operatorId: OP, projectId: project, merchantId: 'm-1', amount: 800n });
    const [mp] = (await cycle(project)).payouts;
    // a hold of no payout (placed by some other ledger user) expires too
    const orphan = await withTransaction(h.pool, async (c) =>
      placeHold(c, {
        accountId: await accountId(h.pool, keys.wallet(OP, resident)),
        amountMinor: 50n,
        idempotencyKey: uniqueName('orphan-hold'),
        expiresAt: new Date(Date.now() - 1_000),
        requireAvailable: true,
      }),
    );
    // their time is up
    const ids = [wd!.payoutId, mp!.payoutId];
    await h.pool.query(
      `UPDATE ledger_holds SET expires_at = now() - interval '1 second'
        WHERE hold_id IN (SELECT hold_id FROM payouts WHERE payout_id = ANY($1::uuid[]))`,
      [ids],
    );
    await h.pool.query(
      `UPDATE payouts SET expires_at = now() - interval '1 second' WHERE payout_id = ANY($1::uuid[])`,
      [ids],
    );
    await waitFor('payouts expired', async () => {
      const { rows } = await h.pool.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM payouts WHERE payout_id = ANY($1::uuid[]) AND status = ${PayoutStatus.PAYOUT_STATUS_EXPIRED}`,
        [ids],
      );
      return rows[0]!.n === 2 ? true : undefined;
    });
    await waitFor('orphan hold expired', async () => {
      const { rows } = await h.pool.query<{ status: string }>(
        'SELECT status FROM ledger_holds WHERE hold_id = $1',
        [orphan.hold.hold_id],
      );
      return rows[0]!.status === 'expired' ? true : undefined;
    });
    const { rows: holds } = await h.pool.query<{ status: string }>(
      'SELECT h.status FROM ledger_holds h JOIN payouts p USING (hold_id) WHERE p.payout_id = ANY($1::uuid[])',
      [ids],
    );
    expect(holds.map((r) => r.status)).toEqual(['expired', 'expired']);
    for (const id of ids) {
      const events = await payoutEvents(h.pool, id);
      expect(events.map((e) => [e.outcome, e.transactionId])).toEqual([['expired', '']]);
    }
    expect(await balance(keys.wallet(OP, resident))).toMatchObject({
      balanceMinor: 500n,
      availableMinor: 500n,
    });
    expect(await balance(keys.merchant(OP, project, 'm-1'))).toMatchObject({ availableMinor: 800n });
    // the bank's late answer: a success is refused, a failure agrees
    const late = await grpcError(confirmPaid(wd!.payoutId));
    expect(late.code).toBe(status.FAILED_PRECONDITION);
    expect(errorCode(late)).toBe('PAYOUT_EXPIRED');
    const expired = (await confirmFailed(wd!.payoutId)).payout!;
    expect(expired.status).toBe(PayoutStatus.PAYOUT_STATUS_EXPIRED);
    expect(expired.failureReason).toBe('the bank did not confirm before the hold expired');
    expect(h.svc.output()).not.toMatch(/hold expiry pass failed/);
  });

  describe('reconciliation', () => {
    const project = 'proj-rec';
    const channel = 'sandbox';
    const ids = {
      oneToOne: randomUUID(),
      oneToMany: randomUUID(),
      missing: randomUUID(),
      extra: randomUUID(),
      mismatched: randomUUID(),
      reversed: randomUUID(),
      otherProject: randomUUID(),
      refund: randomUUID(),
    };
    let day: string;

    /** A payment arriving at the channel's clearing account, posted as escrow posts it. */
    const paid = (paymentId: string, amount: bigint, suffix = 'escrow', projectId = project) =>
      transfer(h.pool, {
        key: `order:${paymentId}:${suffix}`,
        kind: 'payment_escrowed',
        debit: keys.clearing(OP, projectId, channel),
        credit: keys.commission(OP),
        amount,
        reference: paymentId,
        operatorId: OP,
        projectId,
      });

    /** A refund leaving it. */
    const refunded = (paymentId: string, refundId: string, amount: bigint) =>
      transfer(h.pool, {
        key: `order:${paymentId}:refund:${refundId}`,
        kind: 'refund',
        debit: keys.commission(OP),
        credit: keys.clearing(OP, project, channel),
        amount,
        reference: paymentId,
        operatorId: OP,
        projectId: project,
      });

    beforeAll(async () => {
      day = await statementDay();
      await paid(ids.oneToOne, 1_000n);
      await paid(ids.oneToMany, 600n);
      await paid(ids.oneToMany, 400n, 'escrow-2');
      await refunded(ids.oneToOne, ids.refund, 100n);
      await paid(ids.missing, 500n);
      await paid(ids.mismatched, 300n);
      // neither a reversed posting nor one of another project counts
      const reversed = await paid(ids.reversed, 123n);
      await withTransaction(h.pool, (c) => reverse(c, reversed));
      await paid(ids.otherProject, 999n, 'escrow', 'proj-rec-other');
    });

    const at = () => new Date().toISOString();
    const statement = () =>
      [
        'kind,transaction_id,out_trade_no,out_refund_no,amount,fee,at',
        `PAYMENT,ch-1,${ids.oneToOne},,1000,6,${at()}`,
        `PAYMENT,ch-2,${ids.oneToMany},,1000,6,${at()}`,
        `REFUND,ch-1,${ids.oneToOne},r-a,60,0,${at()}`,
        `REFUND,ch-1,${ids.oneToOne},r-b,40,0,${at()}`,
        `PAYMENT,ch-4,${ids.extra},,70,0,${at()}`,
        `PAYMENT,ch-5,${ids.mismatched},,299,2,${at()}`,
        '',
      ].join('\n');

    const importStatement = (csv: string, requestId = uniqueName('import'), client = app) =>
      client.importChannelStatement({
        requestId,
        operatorId: OP,
        projectId: project,
        channelId: channel,
        day,
        csv,
      });

    it('matches 1:1, 1:N and N:1 and reports missing, extra and mismatched', async () => {
      const csv = statement();
      const requestId = uniqueName('import');
      const { report } = await importStatement(csv, requestId);
      expect(report).toMatchObject({
        tenancy: { operatorId: OP, projectId: project },
        channelId: channel,
        day,
        statementLines: 6n,
        ledgerPostings: 6n,
        matchedOneToOne: 1n,
        matchedOneToMany: 1n,
        matchedManyToOne: 1n,
        statementTotal: cny(1_000n + 1_000n - 100n + 70n + 299n),
        ledgerTotal: cny(1_000n + 1_000n - 100n + 500n + 300n),
        fees: cny(14n),
      });
      expect(report!.differences).toEqual([
        {
          issue: ReconciliationIssue.RECONCILIATION_ISSUE_MISSING,
          reference: ids.missing,
          channelTransactionId: '',
          ledgerAmount: cny(500n),
          statementAmount: undefined,
        },
        {
          issue: ReconciliationIssue.RECONCILIATION_ISSUE_EXTRA,
          reference: ids.extra,
          channelTransactionId: 'ch-4',
          ledgerAmount: undefined,
          statementAmount: cny(70n),
        },
        {
          issue: ReconciliationIssue.RECONCILIATION_ISSUE_MISMATCHED,
          reference: ids.mismatched,
          channelTransactionId: 'ch-5',
          ledgerAmount: cny(300n),
          statementAmount: cny(299n),
        },
      ]);
      const { rows } = await h.pool.query<{ n: number }>(
        'SELECT count(*)::int AS n FROM reconciliation_statement_lines WHERE report_id = $1',
        [report!.reportId],
      );
      expect(rows[0]!.n).toBe(6);
      expect((await app.getReconciliationReport({ reportId: report!.reportId })).report).toEqual(report);

      // the same request: the same report; the same day again: a new report
      expect((await importStatement(csv, requestId)).report).toEqual(report);
      const reused = await grpcError(importStatement(statement().replace('299', '298'), requestId));
      expect(reused.code).toBe(status.ALREADY_EXISTS);
      const second = (await importStatement(csv)).report!;
      expect(second.reportId).not.toBe(report!.reportId);
      expect(second.differences).toEqual(report!.differences);
    });

    it('refuses a statement with a bad line, naming it, and writes nothing', async () => {
      const counts = await rowCounts(h.pool);
      const lines = statement().split('\n');
      lines[3] = lines[3]!.replace(',60,', ',6O,');
      const err = await grpcError(importStatement(lines.join('\n')));
      expect(err.code).toBe(status.INVALID_ARGUMENT);
      expect(errorField(err)).toBe('csv');
      expect(err.details).toBe('csv: line 4: amount must be a positive integer of minor units');
      const otherDay = await grpcError(
        importStatement(statement().replace(/,\d{4}-\d{2}-\d{2}T[^,\n]*Z/, ',2001-01-01T00:00:00.000Z')),
      );
      expect(otherDay.details).toBe(`csv: line 2: at must be on ${day} (UTC+8)`);
      expect(await rowCounts(h.pool)).toEqual(counts);
    });
  });

  it('refuses bad input naming the field, and writes nothing', async () => {
    const counts = await rowCounts(h.pool);
    const payoutId = randomUUID();
    // a valid request of each RPC; each case changes what it names
    const cycleReq = { requestId: 'r', operatorId: OP, projectId: 'p', currency: 'CNY' };
    const confirmReq = { requestId: 'r', payoutId, succeeded: true, bankReference: 'b', failureReason: '' };
    const listReq = { operatorId: OP, projectId: '', batchId: '', page: undefined };
    const withdrawReq = {
      requestId: 'r',
      operatorId: OP,
      ownerRef: 'r',
      amount: cny(5n),
      bankAccount: '12345',
    };
    const payFeeReq = {
      requestId: 'r',
      operatorId: OP,
      projectId: 'p',
      ownerRef: 'r',
      amount: cny(5n),
      billRef: 'b',
    };
    const importReq = {
      requestId: 'r',
      operatorId: OP,
      projectId: 'p',
      channelId: 'sandbox',
      day: '2025-02-03',
      csv: 'x',
    };
    const cases: [string, () => Promise<unknown>][] = [
      ['request_id', () => app.runPayoutCycle({ ...cycleReq, requestId: '' })],
      ['project_id', () => app.runPayoutCycle({ ...cycleReq, projectId: '' })],
      ['currency', () => app.runPayoutCycle({ ...cycleReq, currency: 'RMB1' })],
      ['payout_id', () => app.confirmPayout({ ...confirmReq, payoutId: 'x' })],
      ['bank_reference', () => app.confirmPayout({ ...confirmReq, bankReference: '' })],
      [
        'failure_reason',
        () => app.confirmPayout({ ...confirmReq, succeeded: false, bankReference: '', failureReason: '' }),
      ],
      ['batch_id', () => app.listPayouts({ ...listReq, batchId: 'nope' })],
      ['page.page_size', () => app.listPayouts({ ...listReq, page: { pageSize: 10_000, pageToken: '' } })],
      ['page.page_token', () => app.listPayouts({ ...listReq, page: { pageSize: 1, pageToken: 'x' } })],
      ['owner_ref', () => app.getWallet({ operatorId: OP, ownerRef: '', currency: 'CNY' })],
      ['currency', () => app.getWallet({ operatorId: OP, ownerRef: 'r', currency: '' })],
      ['amount.amount_minor', () => app.withdrawFromWallet({ ...withdrawReq, amount: cny(0n) })],
      ['bank_account', () => app.withdrawFromWallet({ ...withdrawReq, bankAccount: '12' })],
      ['amount', () => app.payPropertyFeeFromWallet({ ...payFeeReq, amount: undefined })],
      ['bill_ref', () => app.payPropertyFeeFromWallet({ ...payFeeReq, billRef: '' })],
      ['day', () => app.importChannelStatement({ ...importReq, day: '2025-02-30' })],
      ['channel_id', () => app.importChannelStatement({ ...importReq, channelId: '' })],
      ['csv', () => app.importChannelStatement({ ...importReq, csv: 'kind,amount\n' })],
      ['report_id', () => app.getReconciliationReport({ reportId: '42' })],
    ];
    for (const [field, call] of cases) {
      const err = await grpcError(call());
      expect({ field, code: err.code, named: errorField(err) }).toEqual({
        field,
        code: status.INVALID_ARGUMENT,
        named: field,
      });
    }
    expect(await rowCounts(h.pool)).toEqual(counts);
  });

  it('keeps tenants apart: foreign ids are not found, foreign writes are denied, lists are filtered', async () => {
    const project = 'proj-tenancy';
    await creditMerchant(h.pool, { operatorId: OP, projectId: project, merchantId: 'm-1', amount: 100n });
    const [mine] = (await cycle(project)).payouts;
    const day = await statementDay();
    const { report } = await app.importChannelStatement({
      requestId: uniqueName('import'),
      operatorId: OP,
      projectId: project,
      channelId: 'sandbox',
      day,
      csv: 'kind,transaction_id,out_trade_no,out_refund_no,amount,fee,at\n',
    });
    const foreign = h.clientOf({ operators: [FOREIGN_OP] });
    // a client bound to another project of the same operator does not see this one either
    const otherProject = h.clientOf({ projects: ['proj-elsewhere'] });
    const counts = await rowCounts(h.pool);
    for (const client of [foreign, otherProject]) {
      for (const call of [
        client.confirmPayout({
          requestId: uniqueName('c'),
          payoutId: mine!.payoutId,
          succeeded: true,
          bankReference: 'B',
          failureReason: '',
        }),
        client.getReconciliationReport({ reportId: report!.reportId }),
      ]) {
        const err = await grpcError(call);
        expect(err.code).toBe(status.NOT_FOUND);
      }
      for (const call of [
        client.runPayoutCycle({
          requestId: uniqueName('c'),
          operatorId: OP,
          projectId: project,
          currency: 'CNY',
        }),
        client.getWallet({ operatorId: OP, ownerRef: 'r', currency: 'CNY' }),
        client.withdrawFromWallet({
          requestId: uniqueName('w'),
          operatorId: OP,
          ownerRef: 'r',
          amount: cny(1n),
          bankAccount: '12345678',
        }),
        client.payPropertyFeeFromWallet({
          requestId: uniqueName('f'),
          operatorId: OP,
          projectId: project,
          ownerRef: 'r',
          amount: cny(1n),
          billRef: 'b',
        }),
        client.importChannelStatement({
          requestId: uniqueName('i'),
          operatorId: OP,
          projectId: project,
          channelId: 'sandbox',
          day,
          csv: 'kind,transaction_id,out_trade_no,out_refund_no,amount,fee,at\n',
        }),
      ]) {
        const err = await grpcError(call);
        expect(err.code).toBe(status.PERMISSION_DENIED);
      }
      const listed = await client.listPayouts({
        operatorId: OP,
        projectId: '',
        batchId: '',
        page: undefined,
      });
      expect(listed.payouts).toEqual([]);
    }
    expect(await rowCounts(h.pool)).toEqual(counts);
    // a client bound to the project itself may
    const projectApp = h.clientOf({ projects: [project] });
    expect((await projectApp.getReconciliationReport({ reportId: report!.reportId })).report!.reportId).toBe(
      report!.reportId,
    );
    const listed = await projectApp.listPayouts({
      operatorId: '',
      projectId: '',
      batchId: '',
      page: undefined,
    });
    expect(listed.payouts.map((p) => p.payoutId)).toEqual([mine!.payoutId]);
    // a read-only client may read but not pay
    const reader = h.clientOf({ operators: [OP] }, ['settlement:read']);
    const denied = await grpcError(
      reader.runPayoutCycle({
        requestId: uniqueName('c'),
        operatorId: OP,
        projectId: project,
        currency: 'CNY',
      }),
    );
    expect(denied.code).toBe(status.PERMISSION_DENIED);
  });

  it('the ledger invariants hold', async () => {
    const report = await checkLedgerInvariants(h.pool);
    expect(report.violations).toEqual([]);
    expect(report.ok).toBe(true);
    // and the process logged no failure of its own (a worker pass, an unexpected error)
    expect(
      h.svc
        .output()
        .split('\n')
        // kafkajs reports a topic's metadata not being there yet at start as an error; not ours
        .filter((l) => /"level":"(error|fatal)"/.test(l) && !l.includes('"component":"kafkajs"')),
    ).toEqual([]);
  });
});
