import { randomUUID } from 'node:crypto';
import { status } from '@grpc/grpc-js';
import { toTimestamp } from '@citybase/platform';
import { uniqueName } from '@citybase/platform/testing';
import type { PaymentSucceeded } from '@citybase/contracts/citybase/payment/v1/events';
import type {
  ChannelRefundRequested,
  ChannelSplitRequested,
  ChannelSplitReturnRequested,
  OrderCompleted,
  OrderEscrowed,
  OrderRefunded,
} from '@citybase/contracts/citybase/settlement/v1/events';
import {
  AccountKind,
  ChannelSplitStatus,
  DisputeResolution,
  EscrowOrder,
  EscrowStatus,
  RefundDestination,
} from '@citybase/contracts/citybase/settlement/v1/settlement';
import { checkLedgerInvariants } from '../src/ledger/invariants';
import {
  awaitOrder,
  balance,
  drained,
  errorCode,
  errorField,
  escrowCounts,
  EscrowHarness,
  ESCROW_SCOPES,
  failures,
  grpcError,
  SettlementClient,
  startEscrowHarness,
} from './escrow-harness';
import { onFebruary30, splitRule } from './spec-helpers';

const OP = 'op-esc';
const CNY = (amountMinor: bigint) => ({ currency: 'CNY', amountMinor });
const HELD = (o: EscrowOrder) => o.status === EscrowStatus.ESCROW_STATUS_HELD;

describe('settlement escrow (in-process service, Kafka, PostgreSQL; payment faked on its topic)', () => {
  let h: EscrowHarness;
  let app: SettlementClient;

  beforeAll(async () => {
    h = await startEscrowHarness();
    app = h.clientOf({ operators: [OP] });
  });

  afterEach(async () => {
    h.fake.check();
    const report = await checkLedgerInvariants(h.pool);
    expect(report.violations).toEqual([]);
    expect(report.ok).toBe(true);
  });

  afterAll(async () => {
    const output = h?.svc.output() ?? '';
    await h?.stop();
    // no handler failed (not even once, then retried), nothing dead-lettered, no job pass failed
    expect(failures(output, ['CHANNEL_SPLIT_FAILED'])).toEqual([]);
  });

  /** A project of its own per test, so rules, balances and positions are the test's alone. */
  const newProject = () => uniqueName('proj').slice(0, 60);
  const newMerchant = () => uniqueName('m').slice(0, 60);

  async function setRule(
    projectId: string,
    commissionBps: number,
    propertyShareBps: number,
    taxBps: number,
    hours = 24,
  ) {
    await app.setSplitRule({
      requestId: uniqueName('rule'),
      rule: splitRule({
        operatorId: OP,
        projectId,
        commissionBps,
        propertyShareBps,
        taxBps,
        autoConfirmHours: hours,
      }),
    });
  }

  /** A payment settlement learns of from PaymentSucceeded, held in escrow. */
  async function escrowed(
    over: Partial<PaymentSucceeded> = {},
  ): Promise<{ payment: PaymentSucceeded; order: EscrowOrder; eventId: string }> {
    const projectId = over.tenancy?.projectId ?? newProject();
    const merchantId = over.merchantId ?? newMerchant();
    const { event, eventId } = await h.fake.paymentSucceeded({
      tenancy: { operatorId: OP, projectId, merchantId },
      merchantId,
      ...over,
    });
    const order = await awaitOrder(app, event.paymentId, HELD, 'order held');
    return { payment: event, order, eventId };
  }

  const accountsOf = (p: PaymentSucceeded) => {
    const projectId = p.tenancy!.projectId;
    return {
      clearing: () =>
        balance(h.pool, AccountKind.ACCOUNT_KIND_CHANNEL_CLEARING, {
          operatorId: OP,
          projectId,
          ownerRef: p.channel,
        }),
      escrow: () => balance(h.pool, AccountKind.ACCOUNT_KIND_ESCROW, { operatorId: OP, projectId }),
      merchant: () =>
        balance(h.pool, AccountKind.ACCOUNT_KIND_MERCHANT_PAYABLE, {
          operatorId: OP,
          projectId,
          merchantId: p.merchantId,
        }),
      property: () => balance(h.pool, AccountKind.ACCOUNT_KIND_PROPERTY_SHARE, { operatorId: OP, projectId }),
      wallet: () =>
        balance(h.pool, AccountKind.ACCOUNT_KIND_RESIDENT_WALLET, { operatorId: OP, ownerRef: p.payerRef }),
    };
  };

  it('refuses bad input with INVALID_ARGUMENT naming the field, and writes nothing', async () => {
    const { payment } = await escrowed();
    const id = payment.paymentId;
    await drained(h, payment);
    const rule = splitRule({ operatorId: OP, projectId: payment.tenancy!.projectId });
    const refund = {
      requestId: 'r-bad',
      orderId: id,
      amount: CNY(100n),
      destination: RefundDestination.REFUND_DESTINATION_WALLET,
      reason: 'broken',
    };
    const resolve = {
      requestId: 'r-bad',
      orderId: id,
      resolution: DisputeResolution.DISPUTE_RESOLUTION_PARTIAL,
      refundAmount: CNY(100n),
      note: 'half',
      refundDestination: RefundDestination.REFUND_DESTINATION_ORIGINAL,
    };
    // the RPCs most cases call, with what a case changes in an otherwise valid request
    const settingRule = (over: Partial<typeof rule>) => () =>
      app.setSplitRule({ requestId: 'r', rule: { ...rule, ...over } });
    const resolving = (over: Partial<typeof resolve>) => () => app.resolveDispute({ ...resolve, ...over });
    const refunding = (over: Partial<typeof refund>) => () => app.refundOrder({ ...refund, ...over });
    const cases: [string, () => Promise<unknown>, string][] = [
      ['complete without request_id', () => app.completeOrder({ requestId: '', orderId: id }), 'request_id'],
      [
        'complete, order_id not a UUID',
        () => app.completeOrder({ requestId: 'r', orderId: 'order-1' }),
        'order_id',
      ],
      [
        'dispute without reason',
        () => app.openDispute({ requestId: 'r', orderId: id, reason: ' ' }),
        'reason',
      ],
      [
        'dispute, reason too long',
        () => app.openDispute({ requestId: 'r', orderId: id, reason: 'x'.repeat(501) }),
        'reason',
      ],
      ['resolve without resolution', resolving({ resolution: 0 }), 'resolution'],
      ['partial without amount', resolving({ refundAmount: undefined }), 'refund_amount'],
      ['partial of zero', resolving({ refundAmount: CNY(0n) }), 'refund_amount.amount_minor'],
      [
        'refund resolution without destination',
        resolving({
          resolution: DisputeResolution.DISPUTE_RESOLUTION_REFUND,
          refundAmount: undefined,
          refundDestination: 0,
        }),
        'refund_destination',
      ],
      ['resolve without note', resolving({ note: '' }), 'note'],
      ['refund without amount', refunding({ amount: undefined }), 'amount'],
      ['refund of zero', refunding({ amount: CNY(0n) }), 'amount.amount_minor'],
      ['negative refund', refunding({ amount: CNY(-5n) }), 'amount.amount_minor'],
      [
        'refund, malformed currency',
        refunding({ amount: { currency: 'cny', amountMinor: 5n } }),
        'amount.currency',
      ],
      [
        'refund in another currency than the order',
        refunding({ amount: { currency: 'USD', amountMinor: 5n } }),
        'amount.currency',
      ],
      ['refund without destination', refunding({ destination: 0 }), 'destination'],
      ['refund without reason', refunding({ reason: '' }), 'reason'],
      ['rule missing', () => app.setSplitRule({ requestId: 'r', rule: undefined }), 'rule'],
      ['commission above 3000 bp', settingRule({ commissionBps: 3001 }), 'rule.commission_bps'],
      ['property share above 5000 bp', settingRule({ propertyShareBps: 5001 }), 'rule.property_share_bps'],
      ['tax above 2000 bp', settingRule({ taxBps: 2001 }), 'rule.tax_bps'],
      ['auto-confirm of 0 h', settingRule({ autoConfirmHours: 0 }), 'rule.auto_confirm_hours'],
      ['auto-confirm over 720 h', settingRule({ autoConfirmHours: 721 }), 'rule.auto_confirm_hours'],
      ['rule without operator', settingRule({ operatorId: '' }), 'rule.operator_id'],
      ['get, order_id not a UUID', () => app.getEscrowOrder({ orderId: 'x' }), 'order_id'],
      [
        'list, bad page token',
        () =>
          app.listEscrowOrders({
            operatorId: OP,
            projectId: '',
            status: 0,
            page: { pageSize: 0, pageToken: 'zz!' },
          }),
        'page.page_token',
      ],
      [
        'tax records of month 13',
        () => app.queryTaxRecords({ operatorId: OP, period: '2026-13', merchantId: '', page: undefined }),
        'period',
      ],
      [
        'tax export without operator',
        () => app.exportTaxRecords({ operatorId: '', period: '2026-11' }),
        'operator_id',
      ],
      [
        'positions without operator',
        () => app.getEscrowPositions({ operatorId: '', projectId: '' }),
        'operator_id',
      ],
    ];
    const before = await escrowCounts(h.pool);
    for (const [name, call, field] of cases) {
      const err = await grpcError(call());
      expect({ name, code: err.code, field: errorField(err) }).toEqual({
        name,
        code: status.INVALID_ARGUMENT,
        field,
      });
      expect(err.details).toContain(`${field}:`);
    }
    expect(await escrowCounts(h.pool)).toEqual(before);
    expect((await app.getEscrowOrder({ orderId: id })).order).toMatchObject({
      held: CNY(10_000n),
      refunded: CNY(0n),
    });
  });

  it('holds a succeeded payment in escrow once, however often the event arrives', async () => {
    const { payment, order, eventId } = await escrowed({ amount: CNY(12_345n) });
    expect(order).toMatchObject({
      orderId: payment.paymentId,
      tenancy: { operatorId: OP, projectId: payment.tenancy!.projectId, merchantId: payment.merchantId },
      status: EscrowStatus.ESCROW_STATUS_HELD,
      paid: CNY(12_345n),
      held: CNY(12_345n),
      released: CNY(0n),
      refunded: CNY(0n),
      channelSplit: ChannelSplitStatus.CHANNEL_SPLIT_STATUS_NOT_NEEDED,
      payerRef: 'resident-1',
      channelId: 'sandbox-1',
      merchantCategory: '',
    });
    // default rule: completes 24 h after payment
    const paidAt = Number(order.paidAt!.seconds);
    expect(Number(order.autoConfirmAt!.seconds) - paidAt).toBe(24 * 3600);
    // the same event again (a redelivery), and the same payment under a new event id
    await h.fake.paymentSucceeded(payment, { eventId });
    await h.fake.paymentSucceeded(payment);
    const marker = await escrowed(); // later on the same topic: once it is in, the repeats were applied
    expect(marker.order.status).toBe(EscrowStatus.ESCROW_STATUS_HELD);
    await h.fake.waitForEvents(payment.paymentId, 'OrderEscrowed');
    const { rows } = await h.pool.query<{ n: number }>(
      `SELECT (SELECT count(*)::int FROM escrow_orders WHERE order_id = $1)
            + (SELECT count(*)::int FROM ledger_transactions WHERE reference = $1::text) AS n`,
      [payment.paymentId],
    );
    expect(rows[0]!.n).toBe(2);
    const { rows: events } = await h.pool.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM outbox WHERE partition_key = $1 AND event_type = 'citybase.settlement.v1.OrderEscrowed'`,
      [payment.paymentId],
    );
    expect(events[0]!.n).toBe(1);
    const [escrowedEvent] = h.fake.eventsOf<OrderEscrowed>(payment.paymentId, 'OrderEscrowed');
    expect(escrowedEvent).toMatchObject({ orderId: payment.paymentId, amount: CNY(12_345n) });
    const acc = accountsOf(payment);
    expect(await acc.clearing()).toBe(12_345n);
    expect(await acc.escrow()).toBe(12_345n);
  });

  it('completes an order by the app: the split sums to the amount, every account balance is right, twice is once', async () => {
    const projectId = newProject();
    await setRule(projectId, 600, 1500, 300);
    const { payment } = await escrowed({
      tenancy: { operatorId: OP, projectId, merchantId: '' },
      amount: CNY(10_001n),
    });
    const req = { requestId: uniqueName('complete'), orderId: payment.paymentId };
    const { order } = await app.completeOrder(req);
    expect(order).toMatchObject({
      status: EscrowStatus.ESCROW_STATUS_COMPLETED,
      held: CNY(0n),
      released: CNY(10_001n),
      channelSplit: ChannelSplitStatus.CHANNEL_SPLIT_STATUS_NOT_NEEDED,
    });
    // 10001 at 76/15/6/3 %: 7600.76, 1500.15, 600.06, 300.03 -> floors sum 10000, 1 to the merchant
    expect(order!.split).toEqual([
      { role: 'merchant', amount: CNY(7_601n) },
      { role: 'property', amount: CNY(1_500n) },
      { role: 'commission', amount: CNY(600n) },
      { role: 'tax', amount: CNY(300n) },
    ]);
    expect(order!.completedAt).toBeDefined();
    // the same request, and a new request: the same answer, nothing posted twice
    expect((await app.completeOrder(req)).order).toEqual(order);
    expect((await app.completeOrder({ ...req, requestId: uniqueName('again') })).order).toEqual(order);
    const acc = accountsOf(payment);
    expect(await acc.escrow()).toBe(0n);
    expect(await acc.clearing()).toBe(10_001n);
    expect(await acc.merchant()).toBe(7_601n);
    expect(await acc.property()).toBe(1_500n);
    const [completed] = await h.fake.waitForEvents<OrderCompleted>(payment.paymentId, 'OrderCompleted');
    expect(completed).toMatchObject({ released: CNY(10_001n), completedBy: 'app' });
    expect(h.fake.eventsOf(payment.paymentId, 'OrderCompleted')).toHaveLength(1);
    const tax = await app.queryTaxRecords({
      operatorId: OP,
      period: new Date(Date.now() + 8 * 3600_000).toISOString().slice(0, 7),
      merchantId: payment.merchantId,
      page: undefined,
    });
    expect(tax.records).toEqual([
      expect.objectContaining({
        merchantId: payment.merchantId,
        taxableTurnover: CNY(10_001n),
        tax: CNY(300n),
        orders: 1n,
      }),
    ]);
  });

  it('asks the channel to split a profit-sharing order as the books did, and shows the channel answer', async () => {
    const projectId = newProject();
    await setRule(projectId, 500, 1000, 200);
    const { payment, order: held } = await escrowed({
      tenancy: { operatorId: OP, projectId, merchantId: '' },
      amount: CNY(20_000n),
      profitSharing: true,
    });
    expect(held.channelSplit).toBe(ChannelSplitStatus.CHANNEL_SPLIT_STATUS_HELD);
    const { order } = await app.completeOrder({ requestId: uniqueName('c'), orderId: payment.paymentId });
    expect(order!.channelSplit).toBe(ChannelSplitStatus.CHANNEL_SPLIT_STATUS_PENDING);
    const [split] = await h.fake.waitForEvents<ChannelSplitRequested>(
      payment.paymentId,
      'ChannelSplitRequested',
    );
    expect(split).toMatchObject({
      paymentId: payment.paymentId,
      unfreezeRest: true,
      tenancy: { operatorId: OP, projectId, merchantId: payment.merchantId },
    });
    // 83 % merchant, 10 % property, 5 % commission + 2 % tax to the platform
    expect(split!.receivers).toEqual([
      { account: `merchant:${payment.merchantId}`, amount: CNY(16_600n), description: 'merchant' },
      { account: `property:${projectId}`, amount: CNY(2_000n), description: 'property share' },
      { account: `platform:${OP}`, amount: CNY(1_400n), description: 'platform commission and tax' },
    ]);
    await awaitOrder(
      app,
      payment.paymentId,
      (o) => o.channelSplit === ChannelSplitStatus.CHANNEL_SPLIT_STATUS_SPLIT,
    );

    // the channel refuses the split of another order: an operator sees it on the order
    h.fake.policy.split = 'fail';
    try {
      const other = await escrowed({
        tenancy: { operatorId: OP, projectId, merchantId: '' },
        profitSharing: true,
      });
      await app.completeOrder({ requestId: uniqueName('c'), orderId: other.payment.paymentId });
      const failed = await awaitOrder(
        app,
        other.payment.paymentId,
        (o) => o.channelSplit === ChannelSplitStatus.CHANNEL_SPLIT_STATUS_FAILED,
      );
      expect(failed.status).toBe(EscrowStatus.ESCROW_STATUS_COMPLETED);
      expect(h.svc.output()).toContain('CHANNEL_SPLIT_FAILED');
    } finally {
      h.fake.policy.split = 'succeed';
    }
  });

  it('auto-confirms an undisputed order after its deadline, never a disputed one; a dispute resolves by release', async () => {
    const projectId = newProject();
    // paid just under 24 h ago: the default rule's deadline is 3 s away
    const paidAt = toTimestamp(new Date(Date.now() - 24 * 3600_000 + 3_000));
    const tenancy = { operatorId: OP, projectId, merchantId: '' };
    const plain = await escrowed({ tenancy, occurredAt: paidAt });
    const disputed = await escrowed({ tenancy, occurredAt: paidAt });
    const { order: frozen } = await app.openDispute({
      requestId: uniqueName('d'),
      orderId: disputed.payment.paymentId,
      reason: 'the parcel never arrived',
    });
    expect(frozen).toMatchObject({
      status: EscrowStatus.ESCROW_STATUS_DISPUTED,
      disputeReason: 'the parcel never arrived',
    });
    await h.fake.waitForEvents(disputed.payment.paymentId, 'OrderDisputed');

    const done = await awaitOrder(
      app,
      plain.payment.paymentId,
      (o) => o.status === EscrowStatus.ESCROW_STATUS_COMPLETED,
      'auto-confirmed',
    );
    expect(done.released).toEqual(CNY(10_000n));
    const [completed] = await h.fake.waitForEvents<OrderCompleted>(plain.payment.paymentId, 'OrderCompleted');
    expect(completed!.completedBy).toBe('auto_confirm');
    // several more passes of the job: the disputed order stays frozen
    await new Promise((r) => setTimeout(r, 1_000));
    expect((await app.getEscrowOrder({ orderId: disputed.payment.paymentId })).order).toMatchObject({
      status: EscrowStatus.ESCROW_STATUS_DISPUTED,
      held: CNY(10_000n),
    });
    // the app cannot complete it either while it is disputed
    const refused = await grpcError(
      app.completeOrder({ requestId: uniqueName('c'), orderId: disputed.payment.paymentId }),
    );
    expect(refused.code).toBe(status.FAILED_PRECONDITION);
    expect(refused.details).toContain('DISPUTED');

    const { order: released } = await app.resolveDispute({
      requestId: uniqueName('r'),
      orderId: disputed.payment.paymentId,
      resolution: DisputeResolution.DISPUTE_RESOLUTION_RELEASE,
      refundAmount: undefined,
      note: 'delivered, signed for',
      refundDestination: 0,
    });
    expect(released).toMatchObject({ status: EscrowStatus.ESCROW_STATUS_COMPLETED, released: CNY(10_000n) });
    const resolved = await h.fake.waitForEvents<{ resolution: string }>(
      disputed.payment.paymentId,
      'DisputeResolved',
    );
    expect(resolved[0]!.resolution).toBe('release');
    const [byDispute] = await h.fake.waitForEvents<OrderCompleted>(
      disputed.payment.paymentId,
      'OrderCompleted',
    );
    expect(byDispute!.completedBy).toBe('dispute');
    // only a held order can be disputed; only a disputed one resolved
    expect(
      errorCode(
        await grpcError(
          app.openDispute({ requestId: uniqueName('d'), orderId: done.orderId, reason: 'late' }),
        ),
      ),
    ).toBe('ORDER_NOT_DISPUTABLE');
  });

  it('resolves disputes by refunding all or part, to the wallet at once or through the channel', async () => {
    const projectId = newProject();
    const tenancy = { operatorId: OP, projectId, merchantId: '' };
    const dispute = async (amount = 10_000n) => {
      const e = await escrowed({ tenancy, amount: CNY(amount), payerRef: uniqueName('payer') });
      await app.openDispute({
        requestId: uniqueName('d'),
        orderId: e.payment.paymentId,
        reason: 'wrong size',
      });
      return e;
    };
    const resolve = (
      orderId: string,
      resolution: DisputeResolution,
      destination: RefundDestination,
      amount?: bigint,
    ) =>
      app.resolveDispute({
        requestId: uniqueName('r'),
        orderId,
        resolution,
        refundAmount: amount === undefined ? undefined : CNY(amount),
        note: 'staff decided',
        refundDestination: destination,
      });

    // REFUND to the wallet: at once
    const a = await dispute();
    const { order: refunded } = await resolve(
      a.payment.paymentId,
      DisputeResolution.DISPUTE_RESOLUTION_REFUND,
      RefundDestination.REFUND_DESTINATION_WALLET,
    );
    expect(refunded).toMatchObject({
      status: EscrowStatus.ESCROW_STATUS_REFUNDED,
      held: CNY(0n),
      refunded: CNY(10_000n),
    });
    expect(await accountsOf(a.payment).wallet()).toBe(10_000n);
    const [walletRefund] = await h.fake.waitForEvents<OrderRefunded>(a.payment.paymentId, 'OrderRefunded');
    expect(walletRefund).toMatchObject({ destination: 'wallet', afterSplit: false, amount: CNY(10_000n) });

    // REFUND through the channel: reserved until payment answers
    const b = await dispute();
    const { order: reserving } = await resolve(
      b.payment.paymentId,
      DisputeResolution.DISPUTE_RESOLUTION_REFUND,
      RefundDestination.REFUND_DESTINATION_ORIGINAL,
    );
    expect(reserving).toMatchObject({
      status: EscrowStatus.ESCROW_STATUS_DISPUTED,
      refundPending: CNY(10_000n),
    });
    await awaitOrder(app, b.payment.paymentId, (o) => o.status === EscrowStatus.ESCROW_STATUS_REFUNDED);
    expect(await accountsOf(b.payment).wallet()).toBe(0n);

    // PARTIAL to the wallet: refund part, complete the rest, in one go
    const c = await dispute();
    const { order: partial } = await resolve(
      c.payment.paymentId,
      DisputeResolution.DISPUTE_RESOLUTION_PARTIAL,
      RefundDestination.REFUND_DESTINATION_WALLET,
      3_000n,
    );
    expect(partial).toMatchObject({
      status: EscrowStatus.ESCROW_STATUS_COMPLETED,
      refunded: CNY(3_000n),
      released: CNY(7_000n),
      held: CNY(0n),
    });
    expect(await accountsOf(c.payment).wallet()).toBe(3_000n);
    expect(await accountsOf(c.payment).merchant()).toBe(7_000n);

    // PARTIAL through the channel: the rest completes once the channel has refunded
    h.fake.policy.refund = 'manual';
    try {
      const d = await dispute();
      const { order: waiting } = await resolve(
        d.payment.paymentId,
        DisputeResolution.DISPUTE_RESOLUTION_PARTIAL,
        RefundDestination.REFUND_DESTINATION_ORIGINAL,
        4_000n,
      );
      expect(waiting).toMatchObject({
        status: EscrowStatus.ESCROW_STATUS_DISPUTED,
        refundPending: CNY(4_000n),
      });
      const blocked = await grpcError(
        app.refundOrder({
          requestId: uniqueName('x'),
          orderId: d.payment.paymentId,
          amount: CNY(1n),
          destination: RefundDestination.REFUND_DESTINATION_WALLET,
          reason: 'more',
        }),
      );
      expect(errorCode(blocked)).toBe('DISPUTE_RESOLUTION_PENDING');
      const [ask] = await h.fake.waitForEvents<ChannelRefundRequested>(
        d.payment.paymentId,
        'ChannelRefundRequested',
      );
      expect(ask!.amount).toEqual(CNY(4_000n));
      await h.fake.answerRefund(ask!, true);
      const settled = await awaitOrder(
        app,
        d.payment.paymentId,
        (o) => o.status === EscrowStatus.ESCROW_STATUS_COMPLETED,
      );
      expect(settled).toMatchObject({ refunded: CNY(4_000n), released: CNY(6_000n), refundPending: CNY(0n) });

      // a part that is not less than what is held is refused
      const e = await dispute();
      const tooMuch = await grpcError(
        resolve(
          e.payment.paymentId,
          DisputeResolution.DISPUTE_RESOLUTION_PARTIAL,
          RefundDestination.REFUND_DESTINATION_WALLET,
          10_000n,
        ),
      );
      expect({ code: tooMuch.code, field: errorField(tooMuch) }).toEqual({
        code: status.FAILED_PRECONDITION,
        field: 'refund_amount.amount_minor',
      });
      // a resolution whose channel refund fails leaves the dispute open again
      const { order: again } = await resolve(
        e.payment.paymentId,
        DisputeResolution.DISPUTE_RESOLUTION_REFUND,
        RefundDestination.REFUND_DESTINATION_ORIGINAL,
      );
      expect(again!.refundPending).toEqual(CNY(10_000n));
      const [ask2] = await h.fake.waitForEvents<ChannelRefundRequested>(
        e.payment.paymentId,
        'ChannelRefundRequested',
      );
      await h.fake.answerRefund(ask2!, false);
      const reopened = await awaitOrder(app, e.payment.paymentId, (o) => o.refundPending!.amountMinor === 0n);
      expect(reopened).toMatchObject({ status: EscrowStatus.ESCROW_STATUS_DISPUTED, held: CNY(10_000n) });
    } finally {
      h.fake.policy.refund = 'succeed';
    }
  });

  it('refunds before completion: to the wallet at once, through the channel once payment confirms', async () => {
    h.fake.policy.refund = 'manual';
    try {
      const { payment } = await escrowed({ payerRef: uniqueName('payer') });
      const id = payment.paymentId;
      const acc = accountsOf(payment);
      const refund = (amount: bigint, destination: RefundDestination) =>
        app.refundOrder({
          requestId: uniqueName('rf'),
          orderId: id,
          amount: CNY(amount),
          destination,
          reason: 'returned',
        });

      const { order: afterWallet } = await refund(2_500n, RefundDestination.REFUND_DESTINATION_WALLET);
      expect(afterWallet).toMatchObject({
        status: EscrowStatus.ESCROW_STATUS_HELD,
        held: CNY(7_500n),
        refunded: CNY(2_500n),
      });
      expect(await acc.wallet()).toBe(2_500n);

      const { order: reserving } = await refund(4_000n, RefundDestination.REFUND_DESTINATION_ORIGINAL);
      expect(reserving).toMatchObject({ held: CNY(7_500n), refundPending: CNY(4_000n) });
      // refundable is paid - refunded - pending = 3500
      const over = await grpcError(refund(3_501n, RefundDestination.REFUND_DESTINATION_WALLET));
      expect({ code: over.code, reason: errorCode(over), field: errorField(over) }).toEqual({
        code: status.FAILED_PRECONDITION,
        reason: 'REFUND_EXCEEDS_REFUNDABLE',
        field: 'amount.amount_minor',
      });
      // it cannot complete while the channel works on a refund
      expect(errorCode(await grpcError(app.completeOrder({ requestId: uniqueName('c'), orderId: id })))).toBe(
        'REFUND_PENDING',
      );
      const [ask] = await h.fake.waitForEvents<ChannelRefundRequested>(id, 'ChannelRefundRequested');
      expect(ask).toMatchObject({ paymentId: id, amount: CNY(4_000n), reason: 'returned' });
      await h.fake.answerRefund(ask!, true);
      const refunded = await awaitOrder(app, id, (o) => o.refundPending!.amountMinor === 0n);
      expect(refunded).toMatchObject({ held: CNY(3_500n), refunded: CNY(6_500n) });
      expect(await acc.clearing()).toBe(6_000n);
      expect(await acc.escrow()).toBe(3_500n);

      // a refund the channel refuses releases its reservation; nothing moved
      await refund(1_000n, RefundDestination.REFUND_DESTINATION_ORIGINAL);
      const [, ask2] = await h.fake.waitForEvents<ChannelRefundRequested>(id, 'ChannelRefundRequested', 2);
      await h.fake.answerRefund(ask2!, false);
      const released = await awaitOrder(app, id, (o) => o.refundPending!.amountMinor === 0n);
      expect(released).toMatchObject({ held: CNY(3_500n), refunded: CNY(6_500n) });

      // the rest to the wallet: refunded in full, and then it cannot complete
      const { order: all } = await refund(3_500n, RefundDestination.REFUND_DESTINATION_WALLET);
      expect(all).toMatchObject({
        status: EscrowStatus.ESCROW_STATUS_REFUNDED,
        held: CNY(0n),
        refunded: CNY(10_000n),
      });
      const late = await grpcError(app.completeOrder({ requestId: uniqueName('c'), orderId: id }));
      expect(late.code).toBe(status.FAILED_PRECONDITION);
      expect(late.details).toContain('REFUNDED');
      const refundedEvents = await h.fake.waitForEvents<OrderRefunded>(id, 'OrderRefunded', 3);
      expect(refundedEvents.map((e) => [e.destination, e.amount!.amountMinor])).toEqual([
        ['wallet', 2_500n],
        ['original', 4_000n],
        ['wallet', 3_500n],
      ]);
    } finally {
      h.fake.policy.refund = 'succeed';
    }
  });

  it('refunds after a profit-sharing split: split returns from every receiver, then the refund, then the books', async () => {
    const projectId = newProject();
    await setRule(projectId, 500, 1000, 200);
    const { payment } = await escrowed({
      tenancy: { operatorId: OP, projectId, merchantId: '' },
      amount: CNY(20_000n),
      profitSharing: true,
    });
    const id = payment.paymentId;
    await app.completeOrder({ requestId: uniqueName('c'), orderId: id });
    await awaitOrder(app, id, (o) => o.channelSplit === ChannelSplitStatus.CHANNEL_SPLIT_STATUS_SPLIT);
    const [split] = h.fake.eventsOf<ChannelSplitRequested>(id, 'ChannelSplitRequested');
    const acc = accountsOf(payment);
    const period = new Date(Date.now() + 8 * 3600_000).toISOString().slice(0, 7);
    const taxOf = async () =>
      (await app.queryTaxRecords({ operatorId: OP, period, merchantId: payment.merchantId, page: undefined }))
        .records[0];

    h.fake.policy = { split: 'succeed', splitReturn: 'manual', refund: 'manual' };
    try {
      const { order: pending } = await app.refundOrder({
        requestId: uniqueName('rf'),
        orderId: id,
        amount: CNY(5_000n),
        destination: RefundDestination.REFUND_DESTINATION_ORIGINAL,
        reason: 'returned after delivery',
      });
      expect(pending).toMatchObject({ refundPending: CNY(5_000n), released: CNY(20_000n) });
      const returns = await h.fake.waitForEvents<ChannelSplitReturnRequested>(
        id,
        'ChannelSplitReturnRequested',
        3,
      );
      // 5000 of (16600, 2000, 1000, 400): 4150, 500, 250 + 100 to the platform
      expect(returns.map((r) => [r.account, r.amount!.amountMinor, r.splitInstructionId])).toEqual([
        [`merchant:${payment.merchantId}`, 4_150n, split!.instructionId],
        [`property:${projectId}`, 500n, split!.instructionId],
        [`platform:${OP}`, 350n, split!.instructionId],
      ]);
      await h.fake.answerSplitReturn(returns[0]!, true);
      await h.fake.answerSplitReturn(returns[1]!, true);
      await drained(h, payment);
      expect(h.fake.eventsOf(id, 'ChannelRefundRequested')).toEqual([]);
      await h.fake.answerSplitReturn(returns[2]!, true);
      const [ask] = await h.fake.waitForEvents<ChannelRefundRequested>(id, 'ChannelRefundRequested');
      expect(ask!.amount).toEqual(CNY(5_000n));
      // nothing is posted until the money has gone
      expect(await acc.merchant()).toBe(16_600n);
      await h.fake.answerRefund(ask!, true);
      const done = await awaitOrder(app, id, (o) => o.refundPending!.amountMinor === 0n);
      expect(done).toMatchObject({
        status: EscrowStatus.ESCROW_STATUS_COMPLETED,
        released: CNY(15_000n),
        refunded: CNY(5_000n),
        split: [
          { role: 'merchant', amount: CNY(12_450n) },
          { role: 'property', amount: CNY(1_500n) },
          { role: 'commission', amount: CNY(750n) },
          { role: 'tax', amount: CNY(300n) },
        ],
      });
      expect(await acc.merchant()).toBe(12_450n);
      expect(await acc.property()).toBe(1_500n);
      expect(await acc.clearing()).toBe(15_000n);
      const [refunded] = await h.fake.waitForEvents<OrderRefunded>(id, 'OrderRefunded');
      expect(refunded).toMatchObject({ afterSplit: true, destination: 'original', amount: CNY(5_000n) });
      expect(await taxOf()).toMatchObject({ taxableTurnover: CNY(15_000n), tax: CNY(300n), orders: 1n });

      // a receiver that cannot give its part back fails the refund; its reservation is released
      h.fake.policy.splitReturn = 'fail';
      await app.refundOrder({
        requestId: uniqueName('rf'),
        orderId: id,
        amount: CNY(1_000n),
        destination: RefundDestination.REFUND_DESTINATION_ORIGINAL,
        reason: 'second return',
      });
      const failed = await awaitOrder(app, id, (o) => o.refundPending!.amountMinor === 0n);
      expect(failed).toMatchObject({ released: CNY(15_000n), refunded: CNY(5_000n) });
      const { rows } = await h.pool.query<{ status: string; failure_reason: string }>(
        `SELECT status, failure_reason FROM escrow_refunds WHERE order_id = $1 ORDER BY created_at`,
        [id],
      );
      expect(rows.map((r) => r.status)).toEqual(['succeeded', 'failed']);
      expect(rows[1]!.failure_reason).toContain('SPLIT_RETURN_FAILED');

      // to the wallet after the split returns: no channel refund
      h.fake.policy.splitReturn = 'succeed';
      await app.refundOrder({
        requestId: uniqueName('rf'),
        orderId: id,
        amount: CNY(1_000n),
        destination: RefundDestination.REFUND_DESTINATION_WALLET,
        reason: 'store credit',
      });
      const toWallet = await awaitOrder(app, id, (o) => o.refunded!.amountMinor === 6_000n);
      expect(toWallet.refundPending).toEqual(CNY(0n));
      expect(await acc.wallet()).toBeGreaterThanOrEqual(1_000n);
      expect(h.fake.eventsOf(id, 'ChannelRefundRequested')).toHaveLength(1);
    } finally {
      h.fake.policy = { split: 'succeed', splitReturn: 'succeed', refund: 'succeed' };
    }
  });

  it('refunds after completion without profit sharing: no split returns, the refund then the books', async () => {
    const projectId = newProject();
    await setRule(projectId, 1000, 0, 500);
    const { payment } = await escrowed({
      tenancy: { operatorId: OP, projectId, merchantId: '' },
      amount: CNY(8_000n),
    });
    const id = payment.paymentId;
    await app.completeOrder({ requestId: uniqueName('c'), orderId: id });
    const { order } = await app.refundOrder({
      requestId: uniqueName('rf'),
      orderId: id,
      amount: CNY(2_000n),
      destination: RefundDestination.REFUND_DESTINATION_ORIGINAL,
      reason: 'partial return',
    });
    expect(order!.refundPending).toEqual(CNY(2_000n));
    const done = await awaitOrder(app, id, (o) => o.refundPending!.amountMinor === 0n);
    expect(done).toMatchObject({
      released: CNY(6_000n),
      refunded: CNY(2_000n),
      split: [
        { role: 'merchant', amount: CNY(5_100n) },
        { role: 'commission', amount: CNY(600n) },
        { role: 'tax', amount: CNY(300n) },
      ],
    });
    expect(h.fake.eventsOf(id, 'ChannelSplitReturnRequested')).toEqual([]);
    expect(await accountsOf(payment).merchant()).toBe(5_100n);
  });

  it('answers a repeated request id with the first result, and refuses it for a different request', async () => {
    const { payment } = await escrowed({ payerRef: uniqueName('payer') });
    const req = {
      requestId: uniqueName('rf'),
      orderId: payment.paymentId,
      amount: CNY(1_000n),
      destination: RefundDestination.REFUND_DESTINATION_WALLET,
      reason: 'once',
    };
    const first = (await app.refundOrder(req)).order;
    const again = (await app.refundOrder(req)).order;
    expect(again).toEqual(first);
    expect(first).toMatchObject({ held: CNY(9_000n), refunded: CNY(1_000n) });
    const reused = await grpcError(app.refundOrder({ ...req, amount: CNY(2_000n) }));
    expect({ code: reused.code, reason: errorCode(reused) }).toEqual({
      code: status.ALREADY_EXISTS,
      reason: 'REQUEST_ID_REUSED',
    });
    expect(await accountsOf(payment).wallet()).toBe(1_000n);
    // request ids are per client: another client's same id is its own request
    const other = h.clientOf({ operators: [OP] }, [...ESCROW_SCOPES, 'city:viewer']);
    expect((await other.refundOrder(req)).order).toMatchObject({ refunded: CNY(2_000n) });
  });

  it('50 concurrent refunds of one order never refund more than was paid', async () => {
    const { payment } = await escrowed({ amount: CNY(10_000n), payerRef: uniqueName('payer') });
    const id = payment.paymentId;
    const results = await Promise.allSettled(
      Array.from({ length: 50 }, (_, i) =>
        app.refundOrder({
          requestId: uniqueName(`c${i}`),
          orderId: id,
          amount: CNY(300n),
          destination:
            i % 2
              ? RefundDestination.REFUND_DESTINATION_WALLET
              : RefundDestination.REFUND_DESTINATION_ORIGINAL,
          reason: 'race',
        }),
      ),
    );
    const accepted = results.filter((r) => r.status === 'fulfilled');
    const refused = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    expect(accepted).toHaveLength(33);
    for (const r of refused) expect(errorCode(r.reason)).toBe('REFUND_EXCEEDS_REFUNDABLE');
    const settled = await awaitOrder(
      app,
      id,
      (o) => o.refundPending!.amountMinor === 0n && o.refunded!.amountMinor === 9_900n,
    );
    expect(settled).toMatchObject({ held: CNY(100n), status: EscrowStatus.ESCROW_STATUS_HELD });
    const { rows } = await h.pool.query<{ n: number; total: string }>(
      `SELECT count(*)::int AS n, sum(amount_minor)::text AS total FROM escrow_refunds WHERE order_id = $1 AND status = 'succeeded'`,
      [id],
    );
    expect(rows[0]).toEqual({ n: 33, total: '9900' });
  });

  it('a completion racing refunds never releases and refunds the same money', async () => {
    const projectId = newProject();
    await setRule(projectId, 1000, 500, 300);
    const { payment } = await escrowed({
      tenancy: { operatorId: OP, projectId, merchantId: '' },
      amount: CNY(10_000n),
      payerRef: uniqueName('payer'),
    });
    const id = payment.paymentId;
    const calls = [
      app.completeOrder({ requestId: uniqueName('c'), orderId: id }),
      ...Array.from({ length: 12 }, (_, i) =>
        app.refundOrder({
          requestId: uniqueName(`r${i}`),
          orderId: id,
          amount: CNY(1_000n),
          destination: RefundDestination.REFUND_DESTINATION_WALLET,
          reason: 'race',
        }),
      ),
    ];
    await Promise.allSettled(calls);
    const order = await awaitOrder(app, id, (o) => o.refundPending!.amountMinor === 0n);
    expect(order.released!.amountMinor + order.refunded!.amountMinor + order.held!.amountMinor).toBe(10_000n);
    expect(order.refunded!.amountMinor).toBeLessThanOrEqual(10_000n);
    expect(await accountsOf(payment).wallet()).toBe(order.refunded!.amountMinor);
    const parts = order.split.reduce((sum, p) => sum + p.amount!.amountMinor, 0n);
    expect(parts).toBe(order.released!.amountMinor);
  });

  it('applies a refund asked of payment directly (RefundSucceeded without instruction) exactly once', async () => {
    const { payment } = await escrowed({ amount: CNY(10_000n) });
    const id = payment.paymentId;
    const refundId = randomUUID();
    const eventId = await h.fake.refundSucceeded(payment, CNY(3_000n), { refundId });
    await h.fake.refundSucceeded(payment, CNY(3_000n), { refundId, eventId }); // redelivered
    await h.fake.refundSucceeded(payment, CNY(3_000n), { refundId }); // republished under a new event id
    await drained(h, payment);
    expect((await app.getEscrowOrder({ orderId: id })).order).toMatchObject({
      held: CNY(7_000n),
      refunded: CNY(3_000n),
      status: EscrowStatus.ESCROW_STATUS_HELD,
    });
    expect(await accountsOf(payment).clearing()).toBe(7_000n);
    expect(h.fake.eventsOf(id, 'OrderRefunded')).toHaveLength(1);

    // after completion it takes back the split parts
    await app.completeOrder({ requestId: uniqueName('c'), orderId: id });
    await h.fake.refundSucceeded(payment, CNY(7_000n));
    const all = await awaitOrder(app, id, (o) => o.refunded!.amountMinor === 10_000n);
    expect(all).toMatchObject({ status: EscrowStatus.ESCROW_STATUS_COMPLETED, released: CNY(0n), split: [] });
    expect(await accountsOf(payment).merchant()).toBe(0n);
  });

  it('hides another tenant: its orders answer NOT_FOUND like missing ones, its rules and tax records PERMISSION_DENIED', async () => {
    const { payment } = await escrowed();
    const id = payment.paymentId;
    const projectId = payment.tenancy!.projectId;
    const stranger = h.clientOf({ operators: ['op-stranger'] });
    const missing = randomUUID();
    for (const orderId of [id, missing]) {
      const calls = [
        stranger.getEscrowOrder({ orderId }),
        stranger.completeOrder({ requestId: uniqueName('c'), orderId }),
        stranger.openDispute({ requestId: uniqueName('d'), orderId, reason: 'x' }),
        stranger.refundOrder({
          requestId: uniqueName('r'),
          orderId,
          amount: CNY(1n),
          destination: RefundDestination.REFUND_DESTINATION_WALLET,
          reason: 'x',
        }),
        stranger.resolveDispute({
          requestId: uniqueName('r'),
          orderId,
          resolution: DisputeResolution.DISPUTE_RESOLUTION_RELEASE,
          refundAmount: undefined,
          note: 'x',
          refundDestination: 0,
        }),
      ];
      for (const call of calls) {
        const err = await grpcError(call);
        expect({
          code: err.code,
          reason: errorCode(err),
          details: err.details.replace(orderId, '<id>'),
        }).toEqual({
          code: status.NOT_FOUND,
          reason: 'ESCROW_ORDER_NOT_FOUND',
          details: 'escrow order <id> not found',
        });
      }
    }
    expect((await app.getEscrowOrder({ orderId: id })).order).toMatchObject({
      status: EscrowStatus.ESCROW_STATUS_HELD,
      held: CNY(10_000n),
    });
    const denied = [
      stranger.setSplitRule({
        requestId: uniqueName('rule'),
        rule: splitRule({
          operatorId: OP,
          projectId,
          commissionBps: 3000,
          propertyShareBps: 0,
          taxBps: 0,
          autoConfirmHours: 1,
        }),
      }),
      stranger.listSplitRules({ operatorId: OP, projectId }),
      stranger.queryTaxRecords({ operatorId: OP, period: '2026-11', merchantId: '', page: undefined }),
      stranger.exportTaxRecords({ operatorId: OP, period: '2026-11' }),
      stranger.getEscrowPositions({ operatorId: OP, projectId }),
    ];
    for (const call of denied) expect((await grpcError(call)).code).toBe(status.PERMISSION_DENIED);
    expect((await app.listSplitRules({ operatorId: OP, projectId })).rules).toEqual([]);
    const listed = await stranger.listEscrowOrders({
      operatorId: '',
      projectId: '',
      status: 0,
      page: undefined,
    });
    expect(listed.orders).toEqual([]);
    // a client bound to the order's project sees it; one bound to another project does not
    const projectApp = h.clientOf({ projects: [projectId] });
    expect((await projectApp.getEscrowOrder({ orderId: id })).order!.orderId).toBe(id);
    const otherProject = h.clientOf({ projects: ['proj-elsewhere'] });
    expect((await grpcError(otherProject.getEscrowOrder({ orderId: id }))).code).toBe(status.NOT_FOUND);
    // scopes come from the proto: mediation needs settlement:mediate
    const noMediate = h.clientOf({ operators: [OP] }, ['settlement:read', 'settlement:write']);
    const scope = await grpcError(
      noMediate.resolveDispute({
        requestId: uniqueName('r'),
        orderId: id,
        resolution: DisputeResolution.DISPUTE_RESOLUTION_RELEASE,
        refundAmount: undefined,
        note: 'x',
        refundDestination: 0,
      }),
    );
    expect(scope.code).toBe(status.PERMISSION_DENIED);
  });

  it('lists orders page by page, shows positions next to the ledger, and exports tax records as CSV', async () => {
    const projectId = newProject();
    const merchantId = newMerchant();
    await setRule(projectId, 1000, 0, 600);
    const tenancy = { operatorId: OP, projectId, merchantId };
    const orders: string[] = [];
    for (let i = 0; i < 5; i++)
      orders.push(
        (await escrowed({ tenancy, merchantId, amount: CNY(1_000n * BigInt(i + 1)) })).payment.paymentId,
      );
    await app.completeOrder({ requestId: uniqueName('c'), orderId: orders[0]! });
    await app.openDispute({ requestId: uniqueName('d'), orderId: orders[1]!, reason: 'missing item' });

    const seen: string[] = [];
    const tokens: string[] = [];
    let pageToken = '';
    do {
      const res = await app.listEscrowOrders({
        operatorId: OP,
        projectId,
        status: 0,
        page: { pageSize: 2, pageToken },
      });
      expect(res.orders.length).toBeLessThanOrEqual(2);
      seen.push(...res.orders.map((o) => o.orderId));
      pageToken = res.page!.nextPageToken;
      tokens.push(pageToken);
    } while (pageToken !== '');
    expect([...seen].sort()).toEqual([...orders].sort());
    expect(seen).toEqual([...orders].reverse()); // newest first
    // a token of this list naming a day that does not exist is the caller's mistake, not INTERNAL
    const feb30 = await grpcError(
      app.listEscrowOrders({
        operatorId: OP,
        projectId,
        status: 0,
        page: { pageSize: 2, pageToken: onFebruary30(tokens[0]!) },
      }),
    );
    expect({ code: feb30.code, field: errorField(feb30) }).toEqual({
      code: status.INVALID_ARGUMENT,
      field: 'page.page_token',
    });
    const held = await app.listEscrowOrders({
      operatorId: OP,
      projectId,
      status: EscrowStatus.ESCROW_STATUS_HELD,
      page: undefined,
    });
    expect(held.orders.map((o) => o.orderId).sort()).toEqual(orders.slice(2).sort());

    const { positions } = await app.getEscrowPositions({ operatorId: OP, projectId });
    expect(positions).toEqual([
      {
        operatorId: OP,
        projectId,
        paid: CNY(15_000n),
        released: CNY(1_000n),
        refunded: CNY(0n),
        held: CNY(14_000n),
        ledgerBalance: CNY(14_000n),
        heldOrders: 3n,
        disputedOrders: 1n,
        // plain payments: all money (checkouts add coupon and points parts, checkout.int-spec.ts)
        paidParts: { money: CNY(15_000n), discount: CNY(0n), pointsValue: CNY(0n) },
        refundedParts: { money: CNY(0n), discount: CNY(0n), pointsValue: CNY(0n) },
      },
    ]);

    const period = new Date(Date.now() + 8 * 3600_000).toISOString().slice(0, 7);
    const { csv } = await app.exportTaxRecords({ operatorId: OP, period });
    const lines = csv.trim().split('\n');
    expect(lines[0]).toBe('operator_id,merchant_id,period,currency,taxable_turnover_minor,tax_minor,orders');
    expect(lines).toContain(`${OP},${merchantId},${period},CNY,1000,60,1`);

    // the same records page by page (keyset on merchant id and currency)
    const paged: string[] = [];
    pageToken = '';
    do {
      const res = await app.queryTaxRecords({
        operatorId: OP,
        period,
        merchantId: '',
        page: { pageSize: 1, pageToken },
      });
      expect(res.records.length).toBeLessThanOrEqual(1);
      paged.push(...res.records.map((r) => `${r.merchantId},${r.taxableTurnover!.currency}`));
      pageToken = res.page!.nextPageToken;
    } while (pageToken !== '');
    expect(paged).toEqual(
      lines.slice(1).map((l) =>
        l
          .split(',')
          .slice(1, 4)
          .filter((_, i) => i !== 1)
          .join(','),
      ),
    );
  });
});
