import {
  ChannelSplitStatus,
  DisputeResolution,
  EscrowStatus,
  RefundDestination,
} from '@citybase/contracts/citybase/settlement/v1/settlement';
import {
  allocateRefund,
  channelReceivers,
  decideCompletion,
  decideOpenDispute,
  decideRefund,
  decideResolveDispute,
  OrderState,
  SPLIT_ROLES,
  SplitParts,
  splitByRule,
  statusAfterRefund,
  subtractParts,
  sumParts,
} from './escrow.domain';
import {
  ESCROW_ORDERS_PAGE,
  toListEscrowOrdersQuery,
  toRefundOrderCommand,
  toResolveDisputeCommand,
} from './escrow.requests';
import { domainErrorOf, onFebruary30, rng } from '../../test/spec-helpers';

const rule = (commissionBps: number, propertyShareBps: number, taxBps: number) => ({
  commissionBps,
  propertyShareBps,
  taxBps,
  autoConfirmHours: 24,
});

/** Split parts in role order: merchant, property, commission, tax. */
const split = (merchant: bigint, property: bigint, commission: bigint, tax: bigint): SplitParts => ({
  merchant,
  property,
  commission,
  tax,
});

describe('splitByRule (largest remainder)', () => {
  it.each([
    [
      'splits by basis points; the merchant gets what the rule leaves',
      10_000n,
      rule(600, 1500, 300),
      split(7_600n, 1_500n, 600n, 300n),
    ],
    // exact shares of 101 at 10/10/10/70 %: 70.7, 10.1, 10.1, 10.1 -> floors 70+10+10+10 = 100, 1 left: merchant (.7)
    [
      'gives the leftover units to the largest remainders',
      101n,
      rule(1000, 1000, 1000),
      split(71n, 10n, 10n, 10n),
    ],
    // 3 at 33.33 % each to property, commission, tax and 0.01 % merchant: 0.0003, 0.9999 x3 -> 1 each
    [
      'gives leftovers to the largest remainders, not to the merchant',
      3n,
      rule(3333, 3333, 3333),
      split(0n, 1n, 1n, 1n),
    ],
    // 1 unit, equal remainders: merchant first in ties
    ['breaks ties of remainders merchant first', 1n, rule(2500, 2500, 2500), split(1n, 0n, 0n, 0n)],
    ['a rule of no shares gives the merchant everything', 12_345n, rule(0, 0, 0), split(12_345n, 0n, 0n, 0n)],
  ])('%s', (_case, amount, r, expected) => {
    expect(splitByRule(amount, 'CNY', r)).toEqual(expected);
  });

  it('parts always sum to the amount and each is floor(amount*bps/10000) or one more (10 000 random cases)', () => {
    const next = rng(20261122);
    const wrong: string[] = [];
    for (let i = 0; i < 10_000; i++) {
      const amount = BigInt(Math.floor(next() * 10_000_000));
      const r = rule(Math.floor(next() * 3001), Math.floor(next() * 5001), Math.floor(next() * 2001));
      const parts = splitByRule(amount, 'CNY', r);
      const bps: SplitParts = {
        merchant: BigInt(10_000 - r.commissionBps - r.propertyShareBps - r.taxBps),
        property: BigInt(r.propertyShareBps),
        commission: BigInt(r.commissionBps),
        tax: BigInt(r.taxBps),
      };
      const floorOrOneMore = SPLIT_ROLES.every((role) => {
        const floor = (amount * bps[role]) / 10_000n;
        return parts[role] === floor || parts[role] === floor + 1n;
      });
      if (sumParts(parts) !== amount || !floorOrOneMore) wrong.push(`${amount} ${JSON.stringify(r)}`);
    }
    expect(wrong).toEqual([]);
  });

  it('refuses a rule that takes more than the whole', () => {
    expect(() => splitByRule(100n, 'CNY', rule(5000, 5000, 1))).toThrow(/more than the whole/);
  });
});

describe('allocateRefund (what a refund after completion takes back of the split)', () => {
  const parts = split(7_600n, 1_500n, 600n, 300n);

  it('takes back proportionally; the whole amount takes back every part', () => {
    expect(allocateRefund(1_000n, 'CNY', parts)).toEqual(split(760n, 150n, 60n, 30n));
    expect(allocateRefund(10_000n, 'CNY', parts)).toEqual(parts);
  });

  it('never takes more of a part than is left, and sums to the refund (random refund sequences)', () => {
    const next = rng(7);
    const wrong: string[] = [];
    for (let round = 0; round < 2_000; round++) {
      const whole = BigInt(1 + Math.floor(next() * 100_000));
      const r = rule(Math.floor(next() * 3001), Math.floor(next() * 5001), Math.floor(next() * 2001));
      let left = splitByRule(whole, 'CNY', r);
      while (sumParts(left) > 0n) {
        const amount = BigInt(1 + Math.floor(next() * Number(sumParts(left))));
        const taken = allocateRefund(amount, 'CNY', left);
        if (
          sumParts(taken) !== amount ||
          SPLIT_ROLES.some((role) => taken[role] < 0n || taken[role] > left[role])
        )
          wrong.push(`round ${round}: ${amount} of ${JSON.stringify(left, (_k, v: unknown) => String(v))}`);
        left = subtractParts(left, taken);
      }
    }
    expect(wrong).toEqual([]);
  });

  it('refuses more than is left', () => {
    expect(() => allocateRefund(10_001n, 'CNY', parts)).toThrow(/exceeds/);
  });
});

describe('channel receivers', () => {
  it('merchant, property, and the platform for commission plus tax; zero receivers left out', () => {
    const tenancy = { operatorId: 'op-1', projectId: 'proj-1', merchantId: 'm-1' };
    expect(channelReceivers({ merchant: 90n, property: 0n, commission: 6n, tax: 4n }, tenancy)).toEqual([
      { account: 'merchant:m-1', amountMinor: 90n, description: 'merchant' },
      { account: 'platform:op-1', amountMinor: 10n, description: 'platform commission and tax' },
    ]);
  });
});

const state = (over: Partial<OrderState> = {}): OrderState => ({
  orderId: 'o-1',
  status: EscrowStatus.ESCROW_STATUS_HELD,
  heldMinor: 1_000n,
  paidMinor: 1_000n,
  refundedMinor: 0n,
  refundPendingMinor: 0n,
  profitSharing: false,
  channelSplit: ChannelSplitStatus.CHANNEL_SPLIT_STATUS_NOT_NEEDED,
  resolutionPending: false,
  checkout: false,
  partsPending: false,
  checkoutReleased: false,
  ...over,
});

describe('state decisions', () => {
  it('completion: held completes, completed answers the same, disputed and refunded refuse naming the status', () => {
    expect(decideCompletion(state(), 'app')).toBe('complete');
    expect(decideCompletion(state({ status: EscrowStatus.ESCROW_STATUS_COMPLETED }), 'app')).toBe('already');
    const disputed = domainErrorOf(() =>
      decideCompletion(state({ status: EscrowStatus.ESCROW_STATUS_DISPUTED }), 'app'),
    );
    expect(disputed).toMatchObject({ kind: 'failed_precondition', code: 'ORDER_NOT_COMPLETABLE' });
    expect(disputed.message).toContain('DISPUTED');
    expect(
      domainErrorOf(() =>
        decideCompletion(state({ status: EscrowStatus.ESCROW_STATUS_DISPUTED }), 'auto_confirm'),
      ).code,
    ).toBe('ORDER_NOT_COMPLETABLE');
    expect(decideCompletion(state({ status: EscrowStatus.ESCROW_STATUS_DISPUTED }), 'dispute')).toBe(
      'complete',
    );
    const refunded = domainErrorOf(() =>
      decideCompletion(state({ status: EscrowStatus.ESCROW_STATUS_REFUNDED, heldMinor: 0n }), 'app'),
    );
    expect(refunded.message).toContain('REFUNDED');
    expect(domainErrorOf(() => decideCompletion(state({ refundPendingMinor: 1n }), 'app')).code).toBe(
      'REFUND_PENDING',
    );
  });

  it("checkouts: an order waiting for a part does not complete; a checkout's order is refunded through payment only", () => {
    expect(
      domainErrorOf(() => decideCompletion(state({ checkout: true, partsPending: true }), 'app')).code,
    ).toBe('CHECKOUT_PARTS_PENDING');
    expect(decideCompletion(state({ checkout: true }), 'auto_confirm')).toBe('complete');
    const refund = domainErrorOf(() => decideRefund(state({ checkout: true }), 100n, 'original', 'payer'));
    expect(refund).toMatchObject({ kind: 'failed_precondition', code: 'ORDER_IS_CHECKOUT' });
    expect(refund.message).toContain('RefundCheckout');
  });

  it("a released checkout's order never completes; its money may go back to the payer", () => {
    const released = state({ checkout: true, checkoutReleased: true });
    for (const by of ['app', 'auto_confirm', 'dispute'] as const)
      expect(domainErrorOf(() => decideCompletion(released, by)).code).toBe('CHECKOUT_RELEASED');
    expect(decideRefund(released, 1_000n, 'original', 'payer')).toEqual({ kind: 'escrow_via_channel' });
  });

  it('disputes: only a held order opens one; only a disputed one without a pending refund resolves', () => {
    expect(() => decideOpenDispute(state())).not.toThrow();
    expect(
      domainErrorOf(() => decideOpenDispute(state({ status: EscrowStatus.ESCROW_STATUS_COMPLETED }))).code,
    ).toBe('ORDER_NOT_DISPUTABLE');
    expect(() => decideResolveDispute(state({ status: EscrowStatus.ESCROW_STATUS_DISPUTED }))).not.toThrow();
    expect(domainErrorOf(() => decideResolveDispute(state())).code).toBe('ORDER_NOT_DISPUTED');
    expect(
      domainErrorOf(() =>
        decideResolveDispute(state({ status: EscrowStatus.ESCROW_STATUS_DISPUTED, refundPendingMinor: 5n })),
      ).code,
    ).toBe('REFUND_PENDING');
  });

  it('refund plans', () => {
    expect(decideRefund(state(), 100n, 'wallet', 'payer')).toEqual({ kind: 'escrow_to_wallet' });
    expect(
      decideRefund(state({ status: EscrowStatus.ESCROW_STATUS_DISPUTED }), 100n, 'original', ''),
    ).toEqual({ kind: 'escrow_via_channel' });
    const completed = state({ status: EscrowStatus.ESCROW_STATUS_COMPLETED, heldMinor: 0n });
    expect(decideRefund(completed, 100n, 'original', '')).toEqual({
      kind: 'after_split',
      splitReturns: false,
    });
    // after a profit-sharing split the receivers give their parts back first, once the split is done
    const afterSplit = (channelSplit: ChannelSplitStatus) =>
      decideRefund({ ...completed, profitSharing: true, channelSplit }, 1n, 'wallet', 'p');
    expect(afterSplit(ChannelSplitStatus.CHANNEL_SPLIT_STATUS_SPLIT)).toEqual({
      kind: 'after_split',
      splitReturns: true,
    });
    expect(afterSplit(ChannelSplitStatus.CHANNEL_SPLIT_STATUS_FAILED)).toEqual({
      kind: 'after_split',
      splitReturns: false,
    });
    expect(domainErrorOf(() => afterSplit(ChannelSplitStatus.CHANNEL_SPLIT_STATUS_PENDING)).code).toBe(
      'CHANNEL_SPLIT_PENDING',
    );
  });

  it('refunds never exceed paid - refunded - pending', () => {
    const s = state({ refundedMinor: 300n, heldMinor: 700n, refundPendingMinor: 200n });
    expect(decideRefund(s, 500n, 'original', '')).toEqual({ kind: 'escrow_via_channel' });
    const e = domainErrorOf(() => decideRefund(s, 501n, 'original', ''));
    expect(e).toMatchObject({ code: 'REFUND_EXCEEDS_REFUNDABLE', detail: { field: 'amount.amount_minor' } });
    expect(domainErrorOf(() => decideRefund(state(), 1n, 'wallet', '')).code).toBe('NO_PAYER');
    expect(
      domainErrorOf(() => decideRefund(state({ resolutionPending: true }), 1n, 'wallet', 'p')).code,
    ).toBe('DISPUTE_RESOLUTION_PENDING');
    expect(
      domainErrorOf(() =>
        decideRefund(
          state({ status: EscrowStatus.ESCROW_STATUS_REFUNDED, heldMinor: 0n }),
          1n,
          'wallet',
          'p',
        ),
      ).code,
    ).toBe('ORDER_NOT_REFUNDABLE');
  });

  it('an order not completed is refunded once nothing is held or pending', () => {
    const held = EscrowStatus.ESCROW_STATUS_HELD;
    expect(statusAfterRefund({ status: held, heldMinor: 0n, refundPendingMinor: 0n })).toBe(
      EscrowStatus.ESCROW_STATUS_REFUNDED,
    );
    expect(statusAfterRefund({ status: held, heldMinor: 1n, refundPendingMinor: 0n })).toBe(held);
    expect(
      statusAfterRefund({
        status: EscrowStatus.ESCROW_STATUS_COMPLETED,
        heldMinor: 0n,
        refundPendingMinor: 0n,
      }),
    ).toBe(EscrowStatus.ESCROW_STATUS_COMPLETED);
  });
});

describe('request validation names the field', () => {
  const fieldOf = (fn: () => unknown) => domainErrorOf(fn).detail.field;
  it('refunds and dispute resolutions', () => {
    const refund = {
      requestId: 'r',
      orderId: '6b1f4ad6-3f4b-4d0a-9a49-0c8f2d9a7b11',
      amount: { currency: 'CNY', amountMinor: 100n },
      destination: RefundDestination.REFUND_DESTINATION_WALLET,
      reason: 'broken',
    };
    expect(toRefundOrderCommand(refund)).toMatchObject({ destination: 'wallet', amountMinor: 100n });
    expect(fieldOf(() => toRefundOrderCommand({ ...refund, orderId: 'nope' }))).toBe('order_id');
    expect(
      fieldOf(() => toRefundOrderCommand({ ...refund, amount: { currency: 'CNY', amountMinor: 0n } })),
    ).toBe('amount.amount_minor');
    expect(fieldOf(() => toRefundOrderCommand({ ...refund, destination: 0 }))).toBe('destination');
    expect(fieldOf(() => toRefundOrderCommand({ ...refund, reason: 'x'.repeat(201) }))).toBe('reason');
    const resolve = {
      requestId: 'r',
      orderId: refund.orderId,
      resolution: DisputeResolution.DISPUTE_RESOLUTION_PARTIAL,
      refundAmount: { currency: 'CNY', amountMinor: 10n },
      note: 'half',
      refundDestination: RefundDestination.REFUND_DESTINATION_ORIGINAL,
    };
    expect(toResolveDisputeCommand(resolve)).toMatchObject({
      resolution: 'partial',
      destination: 'original',
    });
    expect(fieldOf(() => toResolveDisputeCommand({ ...resolve, refundAmount: undefined }))).toBe(
      'refund_amount',
    );
    expect(fieldOf(() => toResolveDisputeCommand({ ...resolve, refundDestination: 0 }))).toBe(
      'refund_destination',
    );
    expect(
      fieldOf(() =>
        toResolveDisputeCommand({ ...resolve, resolution: DisputeResolution.DISPUTE_RESOLUTION_RELEASE }),
      ),
    ).toBe('refund_amount');
    expect(fieldOf(() => toResolveDisputeCommand({ ...resolve, resolution: 0 }))).toBe('resolution');
    expect(fieldOf(() => toResolveDisputeCommand({ ...resolve, note: '' }))).toBe('note');
  });

  it('page tokens', () => {
    const token = ESCROW_ORDERS_PAGE.encode([
      '2026-11-22T10:00:00.123456Z',
      '6b1f4ad6-3f4b-4d0a-9a49-0c8f2d9a7b11',
    ]);
    const list = (page: { pageSize: number; pageToken: string }) =>
      toListEscrowOrdersQuery({ operatorId: '', projectId: '', status: 0, page });
    expect(list({ pageSize: 0, pageToken: token })).toMatchObject({
      size: 50,
      after: { createdAt: '2026-11-22T10:00:00.123456Z', orderId: '6b1f4ad6-3f4b-4d0a-9a49-0c8f2d9a7b11' },
    });
    // a day that does not exist: Date.parse accepts it, PostgreSQL refused it in the query (INTERNAL)
    expect(fieldOf(() => list({ pageSize: 0, pageToken: onFebruary30(token) }))).toBe('page.page_token');
    expect(fieldOf(() => list({ pageSize: 0, pageToken: 'bad!' }))).toBe('page.page_token');
    expect(fieldOf(() => list({ pageSize: 501, pageToken: '' }))).toBe('page.page_size');
  });
});
