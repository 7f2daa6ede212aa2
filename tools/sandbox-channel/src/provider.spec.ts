import fc from 'fast-check';
import { DEFAULT_BEHAVIOUR, type Behaviour } from './config';
import { ProviderError } from './errors';
import { SandboxProvider, type NotificationRequest } from './provider';
import type { CreateOrderInput } from './requests';

const T0 = Date.parse('2025-03-01T02:00:00Z');

function setup(over: Partial<Behaviour> = {}, random: () => number = () => 0.5) {
  const behaviour: Behaviour = { ...DEFAULT_BEHAVIOUR, ...over };
  const sent: NotificationRequest[] = [];
  const provider = new SandboxProvider({
    behaviour: () => behaviour,
    notify: (n) => sent.push(n),
    payUrl: (o) => `http://sandbox/pay/${o}`,
    random,
  });
  provider.registerMerchant('m1', 'key-1');
  provider.registerMerchant('m2', 'key-2');
  return { provider, sent, behaviour };
}

const orderInput = (over: Partial<CreateOrderInput> = {}): CreateOrderInput => ({
  outTradeNo: 'pay-1',
  amount: 10_000n,
  currency: 'CNY',
  description: 'parking',
  notifyUrl: 'http://citybase/notify',
  expireAt: new Date(T0 + 15 * 60_000),
  profitSharing: false,
  ...over,
});

const refundInput = (outRefundNo: string, amount: bigint, outTradeNo = 'pay-1', total = 10_000n) => ({
  outTradeNo,
  outRefundNo,
  amount,
  total,
  reason: 'customer asked',
  notifyUrl: 'http://citybase/notify-refund',
});

/** The provider error a call throws (status and code). */
function refusal(fn: () => unknown): { status: number; code: string; message: string } {
  try {
    fn();
  } catch (err) {
    if (err instanceof ProviderError) return { status: err.status, code: err.code, message: err.message };
    throw err;
  }
  throw new Error('expected a ProviderError');
}

/** The ledger problems of an order, if any: where its money is must add up to what was paid. */
function ledgerProblem(
  provider: SandboxProvider,
  outTradeNo = 'pay-1',
  merchantNo = 'm1',
): string | undefined {
  const l = provider.ledgerOf(merchantNo, outTradeNo);
  if (l.held + l.released + l.withReceivers + l.reservedByRefunds !== l.amount)
    return `not conserved: ${JSON.stringify(l, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v))}`;
  if (l.refunded > l.reservedByRefunds) return 'refunded more than reserved';
  if ([l.held, l.released, l.withReceivers, l.reservedByRefunds, l.refunded].some((v) => v < 0n))
    return 'negative';
  return undefined;
}

/** Plain throw (cheap while fast-check shrinks, unlike expect()). */
function check(condition: boolean, message: string): void {
  if (!condition) throw new Error(message);
}

/** Where the money of an order is must add up to what was paid. */
function expectConserved(provider: SandboxProvider, outTradeNo = 'pay-1', merchantNo = 'm1') {
  const l = provider.ledgerOf(merchantNo, outTradeNo);
  expect(l.held + l.released + l.withReceivers + l.reservedByRefunds).toBe(l.amount);
  expect(l.refunded).toBeLessThanOrEqual(l.reservedByRefunds);
  for (const v of [l.held, l.released, l.withReceivers, l.reservedByRefunds, l.refunded]) {
    expect(v).toBeGreaterThanOrEqual(0n);
  }
}

beforeEach(() => {
  jest.useFakeTimers({ now: T0 });
});
afterEach(() => {
  jest.useRealTimers();
});

describe('orders: NOTPAY -> SUCCESS | PAYERROR | CLOSED', () => {
  it('opens an order NOTPAY with its pay URL and nothing held or refunded', () => {
    const { provider } = setup();
    expect(provider.createOrder('m1', orderInput())).toEqual({
      outTradeNo: 'pay-1',
      status: 'NOTPAY',
      amount: '10000',
      currency: 'CNY',
      payUrl: 'http://sandbox/pay/pay-1',
      profitSharing: false,
      held: '0',
      refunded: '0',
    });
  });

  it('is paid by the payer: SUCCESS with a transaction id and paidAt, notified once', () => {
    const { provider, sent } = setup();
    provider.createOrder('m1', orderInput());
    jest.advanceTimersByTime(5000);
    const paid = provider.pay('pay-1', 'success');
    expect(paid).toMatchObject({ status: 'SUCCESS', paidAt: new Date(T0 + 5000).toISOString(), held: '0' });
    expect(paid.transactionId).toMatch(/^SBX\d{14}[0-9a-f]{12}$/);
    expect(sent).toEqual([
      {
        merchantNo: 'm1',
        outTradeNo: 'pay-1',
        notifyUrl: 'http://citybase/notify',
        type: 'ORDER',
        payload: { type: 'ORDER', order: paid },
      },
    ]);
    // Paying again with the same outcome answers the order as it is, without a second notification.
    expect(provider.pay('pay-1', 'success')).toEqual(paid);
    expect(sent).toHaveLength(1);
    expect(refusal(() => provider.pay('pay-1', 'fail'))).toMatchObject({ status: 409, code: 'ORDER_PAID' });
  });

  it('fails when the bank declines: PAYERROR with a reason, final', () => {
    const { provider, sent } = setup();
    provider.createOrder('m1', orderInput());
    expect(provider.pay('pay-1', 'fail')).toMatchObject({
      status: 'PAYERROR',
      failureReason: 'BANK_DECLINED',
    });
    expect(sent.map((n) => n.type)).toEqual(['ORDER']);
    expect(refusal(() => provider.pay('pay-1', 'success'))).toMatchObject({
      status: 409,
      code: 'ORDER_PAYERROR',
    });
    expect(provider.closeOrder('m1', 'pay-1').status).toBe('PAYERROR');
  });

  it('closes an unpaid order on request; a closed order cannot be paid', () => {
    const { provider, sent } = setup();
    provider.createOrder('m1', orderInput());
    expect(provider.closeOrder('m1', 'pay-1').status).toBe('CLOSED');
    expect(provider.closeOrder('m1', 'pay-1').status).toBe('CLOSED');
    expect(refusal(() => provider.pay('pay-1', 'success'))).toMatchObject({
      status: 409,
      code: 'ORDER_CLOSED',
    });
    expect(sent).toEqual([]);
  });

  it('answers close of a paid order with SUCCESS', () => {
    const { provider } = setup();
    provider.createOrder('m1', orderInput());
    provider.pay('pay-1', 'success');
    expect(provider.closeOrder('m1', 'pay-1').status).toBe('SUCCESS');
  });

  it('closes by itself once past expireAt, and cannot be paid then', () => {
    const { provider } = setup();
    provider.createOrder('m1', orderInput({ expireAt: new Date(T0 + 1000) }));
    jest.advanceTimersByTime(999);
    expect(provider.getOrder('m1', 'pay-1').status).toBe('NOTPAY');
    jest.advanceTimersByTime(1);
    expect(refusal(() => provider.pay('pay-1', 'success'))).toMatchObject({
      status: 409,
      code: 'ORDER_CLOSED',
    });
    expect(provider.getOrder('m1', 'pay-1').status).toBe('CLOSED');
  });

  it('refuses to open an order that has already expired', () => {
    const { provider } = setup();
    expect(refusal(() => provider.createOrder('m1', orderInput({ expireAt: new Date(T0) })))).toEqual({
      status: 400,
      code: 'PARAM_ERROR',
      message: 'expireAt: must be in the future',
    });
  });

  it('is idempotent by outTradeNo: the existing order again, 409 ORDER_MISMATCH for another amount', () => {
    const { provider } = setup();
    const first = provider.createOrder('m1', orderInput());
    provider.pay('pay-1', 'success');
    const again = provider.createOrder('m1', orderInput({ description: 'other text' }));
    expect(again).toMatchObject({ outTradeNo: 'pay-1', status: 'SUCCESS', amount: first.amount });
    expect(refusal(() => provider.createOrder('m1', orderInput({ amount: 10_001n })))).toMatchObject({
      status: 409,
      code: 'ORDER_MISMATCH',
    });
    expect(refusal(() => provider.createOrder('m1', orderInput({ currency: 'USD' })))).toMatchObject({
      code: 'ORDER_MISMATCH',
    });
  });

  it('keeps merchants apart: another merchant sees no order and can use the same outTradeNo', () => {
    const { provider } = setup();
    provider.createOrder('m1', orderInput());
    expect(refusal(() => provider.getOrder('m2', 'pay-1'))).toMatchObject({
      status: 404,
      code: 'ORDER_NOT_EXIST',
    });
    expect(refusal(() => provider.closeOrder('m2', 'pay-1'))).toMatchObject({ status: 404 });
    provider.createOrder('m2', orderInput({ amount: 5n }));
    // The unsigned payer endpoint then needs the merchant to know which order is meant.
    expect(refusal(() => provider.pay('pay-1', 'success'))).toMatchObject({
      status: 409,
      code: 'ORDER_AMBIGUOUS',
    });
    expect(provider.pay('pay-1', 'success', 'm2')).toMatchObject({ amount: '5', status: 'SUCCESS' });
    expect(provider.getOrder('m1', 'pay-1').status).toBe('NOTPAY');
  });

  it('is paid by itself after autoPayDelayMs when SANDBOX_AUTO_PAY is set', () => {
    const { provider, sent } = setup({ autoPay: 'success', autoPayDelayMs: 200 });
    provider.createOrder('m1', orderInput());
    jest.advanceTimersByTime(199);
    expect(provider.getOrder('m1', 'pay-1').status).toBe('NOTPAY');
    jest.advanceTimersByTime(1);
    expect(provider.getOrder('m1', 'pay-1').status).toBe('SUCCESS');
    expect(sent).toHaveLength(1);
  });

  it('does not auto-pay an order that expired or was closed first', () => {
    const { provider, sent } = setup({ autoPay: 'fail', autoPayDelayMs: 500 });
    provider.createOrder('m1', orderInput({ outTradeNo: 'a', expireAt: new Date(T0 + 100) }));
    provider.createOrder('m1', orderInput({ outTradeNo: 'b' }));
    provider.closeOrder('m1', 'b');
    jest.advanceTimersByTime(1000);
    expect(provider.getOrder('m1', 'a').status).toBe('CLOSED');
    expect(provider.getOrder('m1', 'b').status).toBe('CLOSED');
    expect(sent).toEqual([]);
  });
});

describe('refunds: never more than was paid', () => {
  function paid(
    over: Partial<CreateOrderInput> = {},
    behaviour: Partial<Behaviour> = {},
    random?: () => number,
  ) {
    const s = setup(behaviour, random);
    s.provider.createOrder('m1', orderInput(over));
    s.provider.pay('pay-1', 'success');
    s.sent.length = 0;
    return s;
  }

  it('goes PROCESSING -> SUCCESS after refundDelayMs; order.refunded grows then', () => {
    const { provider, sent } = paid({}, { refundDelayMs: 100 });
    const r = provider.refund('m1', refundInput('r1', 4000n));
    expect(r).toMatchObject({ outRefundNo: 'r1', outTradeNo: 'pay-1', status: 'PROCESSING', amount: '4000' });
    expect(r.refundId).toMatch(/^SBXR/);
    expect(provider.getOrder('m1', 'pay-1').refunded).toBe('0');
    jest.advanceTimersByTime(100);
    const done = provider.getRefund('m1', 'r1');
    expect(done).toMatchObject({ status: 'SUCCESS', completedAt: new Date(T0 + 100).toISOString() });
    expect(provider.getOrder('m1', 'pay-1')).toMatchObject({ status: 'SUCCESS', refunded: '4000' });
    expect(sent).toEqual([
      {
        merchantNo: 'm1',
        outTradeNo: 'pay-1',
        outRefundNo: 'r1',
        notifyUrl: 'http://citybase/notify-refund',
        type: 'REFUND',
        payload: { type: 'REFUND', refund: done },
      },
    ]);
    expectConserved(provider);
  });

  it('counts PROCESSING refunds against the amount: NOT_ENOUGH past it, exactly the amount is fine', () => {
    const { provider } = paid();
    provider.refund('m1', refundInput('r1', 6000n));
    expect(refusal(() => provider.refund('m1', refundInput('r2', 4001n)))).toMatchObject({
      status: 400,
      code: 'NOT_ENOUGH',
    });
    expect(provider.refund('m1', refundInput('r3', 4000n)).status).toBe('PROCESSING');
    expect(refusal(() => provider.refund('m1', refundInput('r4', 1n)))).toMatchObject({ code: 'NOT_ENOUGH' });
    jest.advanceTimersByTime(1000);
    expect(provider.getOrder('m1', 'pay-1').refunded).toBe('10000');
    expectConserved(provider);
  });

  it('gives an ABNORMAL refund its amount back to refund again', () => {
    let roll = 0; // the first refund to complete fails, later ones succeed
    const { provider } = paid({}, { refundFailureRate: 0.5 }, () => (roll++ === 0 ? 0.1 : 0.9));
    provider.refund('m1', refundInput('r1', 10_000n));
    expect(refusal(() => provider.refund('m1', refundInput('r2', 1n)))).toMatchObject({ code: 'NOT_ENOUGH' });
    jest.advanceTimersByTime(1000);
    expect(provider.getRefund('m1', 'r1')).toMatchObject({
      status: 'ABNORMAL',
      failureReason: 'REFUND_ABNORMAL',
    });
    expect(provider.getOrder('m1', 'pay-1').refunded).toBe('0');
    expectConserved(provider);
    provider.refund('m1', refundInput('r2', 10_000n));
    jest.advanceTimersByTime(1000);
    expect(provider.getOrder('m1', 'pay-1').refunded).toBe('10000');
    expectConserved(provider);
  });

  it('refuses refunds of an unpaid order, and checks total against the order amount', () => {
    const { provider } = setup();
    provider.createOrder('m1', orderInput());
    expect(refusal(() => provider.refund('m1', refundInput('r1', 1n)))).toMatchObject({
      status: 400,
      code: 'ORDER_NOT_PAID',
    });
    provider.pay('pay-1', 'success');
    expect(refusal(() => provider.refund('m1', refundInput('r1', 1n, 'pay-1', 9_999n)))).toEqual({
      status: 400,
      code: 'PARAM_ERROR',
      message: 'total: must be the order amount (10000)',
    });
    expect(refusal(() => provider.refund('m1', refundInput('r1', 1n, 'nope')))).toMatchObject({
      status: 404,
      code: 'ORDER_NOT_EXIST',
    });
    expect(refusal(() => provider.getRefund('m1', 'r1'))).toMatchObject({
      status: 404,
      code: 'REFUND_NOT_EXIST',
    });
  });

  it('is idempotent by outRefundNo: the same refund again, 409 REFUND_MISMATCH for another amount or order', () => {
    const { provider } = paid();
    const first = provider.refund('m1', refundInput('r1', 3000n));
    expect(provider.refund('m1', refundInput('r1', 3000n))).toEqual(first);
    expect(provider.ledgerOf('m1', 'pay-1').reservedByRefunds).toBe(3000n);
    expect(refusal(() => provider.refund('m1', refundInput('r1', 3001n)))).toMatchObject({
      status: 409,
      code: 'REFUND_MISMATCH',
    });
    provider.createOrder('m1', orderInput({ outTradeNo: 'pay-2' }));
    expect(refusal(() => provider.refund('m1', refundInput('r1', 3000n, 'pay-2')))).toMatchObject({
      code: 'REFUND_MISMATCH',
    });
    // Another merchant's refund ids are its own.
    expect(refusal(() => provider.getRefund('m2', 'r1'))).toMatchObject({ status: 404 });
  });

  it('keeps conservation and the refund limit over random sequences of refunds (seeded)', () => {
    fc.assert(
      fc.property(
        fc.bigInt({ min: 1n, max: 100_000n }),
        fc.array(
          fc.record({ amount: fc.bigInt({ min: 1n, max: 60_000n }), fail: fc.boolean(), wait: fc.boolean() }),
          {
            maxLength: 25,
          },
        ),
        (amount, steps) => {
          let nextRoll = 0.9;
          const s = setup({ refundFailureRate: 0.5, refundDelayMs: 10 }, () => nextRoll);
          s.provider.createOrder('m1', orderInput({ amount }));
          s.provider.pay('pay-1', 'success');
          let accepted = 0n;
          steps.forEach((step, i) => {
            nextRoll = step.fail ? 0.1 : 0.9;
            const before = s.provider.ledgerOf('m1', 'pay-1');
            const refundable = before.amount - before.reservedByRefunds;
            let refused: unknown;
            try {
              s.provider.refund('m1', refundInput(`r${i}`, step.amount, 'pay-1', amount));
              accepted += step.amount;
            } catch (err) {
              refused = err;
            }
            if (refused === undefined)
              check(step.amount <= refundable, `accepted ${step.amount} of ${refundable}`);
            else
              check(
                refused instanceof ProviderError && refused.code === 'NOT_ENOUGH' && step.amount > refundable,
                `refused ${step.amount} of ${refundable}`,
              );
            if (step.wait) jest.advanceTimersByTime(10);
            const problem = ledgerProblem(s.provider);
            check(problem === undefined, problem ?? '');
          });
          jest.advanceTimersByTime(10);
          const problem = ledgerProblem(s.provider);
          check(problem === undefined, problem ?? '');
          check(s.provider.ledgerOf('m1', 'pay-1').refunded <= accepted, 'refunded more than accepted');
        },
      ),
      { seed: 20250301, numRuns: 200 },
    );
  });
});

describe('profit sharing: held, splits, unfreeze, split returns', () => {
  function sharing(amount = 10_000n) {
    const s = setup();
    s.provider.createOrder('m1', orderInput({ amount, profitSharing: true }));
    s.provider.pay('pay-1', 'success');
    return s;
  }
  const receivers = (...amounts: bigint[]) =>
    amounts.map((amount, i) => ({ account: `acct-${i}`, amount, description: `share ${i}` }));

  it('holds the whole amount once paid', () => {
    const { provider } = sharing();
    expect(provider.getOrder('m1', 'pay-1')).toMatchObject({ held: '10000', profitSharing: true });
    expectConserved(provider);
  });

  it('moves split amounts from held to receivers, never more than held', () => {
    const { provider } = sharing();
    const split = provider.split('m1', {
      outTradeNo: 'pay-1',
      outSplitNo: 's1',
      receivers: receivers(3000n, 1500n),
      unfreezeRest: false,
    });
    expect(split).toEqual({
      outSplitNo: 's1',
      outTradeNo: 'pay-1',
      status: 'FINISHED',
      receivers: [
        { account: 'acct-0', amount: '3000', description: 'share 0', result: 'SUCCESS' },
        { account: 'acct-1', amount: '1500', description: 'share 1', result: 'SUCCESS' },
      ],
      unfrozen: '0',
    });
    expect(provider.getOrder('m1', 'pay-1').held).toBe('5500');
    expect(
      refusal(() =>
        provider.split('m1', {
          outTradeNo: 'pay-1',
          outSplitNo: 's2',
          receivers: receivers(5000n, 501n),
          unfreezeRest: false,
        }),
      ),
    ).toMatchObject({ status: 400, code: 'NOT_ENOUGH' });
    expect(provider.getOrder('m1', 'pay-1').held).toBe('5500');
    provider.split('m1', {
      outTradeNo: 'pay-1',
      outSplitNo: 's2',
      receivers: receivers(5500n),
      unfreezeRest: false,
    });
    expect(provider.getOrder('m1', 'pay-1').held).toBe('0');
    expectConserved(provider);
  });

  it('releases the rest to the merchant with unfreezeRest or unfreeze, idempotently', () => {
    const { provider } = sharing();
    const split = provider.split('m1', {
      outTradeNo: 'pay-1',
      outSplitNo: 's1',
      receivers: receivers(1000n),
      unfreezeRest: true,
    });
    expect(split.unfrozen).toBe('9000');
    expect(provider.getOrder('m1', 'pay-1').held).toBe('0');
    expect(provider.ledgerOf('m1', 'pay-1').released).toBe(9000n);

    const other = sharing(700n).provider;
    const u = other.unfreeze('m1', { outTradeNo: 'pay-1', outSplitNo: 'u1' });
    expect(u).toEqual({
      outSplitNo: 'u1',
      outTradeNo: 'pay-1',
      status: 'FINISHED',
      receivers: [],
      unfrozen: '700',
    });
    expect(other.unfreeze('m1', { outTradeNo: 'pay-1', outSplitNo: 'u1' })).toEqual(u);
    expect(other.getOrder('m1', 'pay-1').held).toBe('0');
    expectConserved(other);
  });

  it('is idempotent by outSplitNo: the same split again, 409 SPLIT_MISMATCH for other content', () => {
    const { provider } = sharing();
    const input = { outTradeNo: 'pay-1', outSplitNo: 's1', receivers: receivers(1000n), unfreezeRest: false };
    const first = provider.split('m1', input);
    expect(provider.split('m1', input)).toEqual(first);
    expect(provider.getOrder('m1', 'pay-1').held).toBe('9000');
    expect(refusal(() => provider.split('m1', { ...input, receivers: receivers(1001n) }))).toMatchObject({
      status: 409,
      code: 'SPLIT_MISMATCH',
    });
    expect(refusal(() => provider.unfreeze('m1', { outTradeNo: 'pay-1', outSplitNo: 's1' }))).toMatchObject({
      code: 'SPLIT_MISMATCH',
    });
  });

  it('splits only paid profit-sharing orders', () => {
    const { provider } = setup();
    provider.createOrder('m1', orderInput({ outTradeNo: 'plain' }));
    provider.createOrder('m1', orderInput({ outTradeNo: 'unpaid', profitSharing: true }));
    provider.pay('plain', 'success');
    const input = (outTradeNo: string) => ({
      outTradeNo,
      outSplitNo: `s-${outTradeNo}`,
      receivers: receivers(1n),
      unfreezeRest: false,
    });
    expect(refusal(() => provider.split('m1', input('plain')))).toMatchObject({
      status: 400,
      code: 'NOT_PROFIT_SHARING',
    });
    expect(refusal(() => provider.split('m1', input('unpaid')))).toMatchObject({
      status: 400,
      code: 'ORDER_NOT_PAID',
    });
    expect(refusal(() => provider.unfreeze('m1', { outTradeNo: 'plain', outSplitNo: 'u' }))).toMatchObject({
      code: 'NOT_PROFIT_SHARING',
    });
  });

  it('takes a split back to held with a split return, at most what the receiver got from that split', () => {
    const { provider } = sharing();
    provider.split('m1', {
      outTradeNo: 'pay-1',
      outSplitNo: 's1',
      receivers: receivers(3000n, 2000n),
      unfreezeRest: true,
    });
    const ret = {
      outTradeNo: 'pay-1',
      outSplitNo: 's1',
      outReturnNo: 'ret-1',
      account: 'acct-0',
      amount: 2500n,
    };
    expect(provider.splitReturn('m1', ret)).toEqual({
      outReturnNo: 'ret-1',
      outTradeNo: 'pay-1',
      outSplitNo: 's1',
      account: 'acct-0',
      amount: '2500',
      status: 'SUCCESS',
    });
    expect(provider.splitReturn('m1', ret).status).toBe('SUCCESS');
    expect(provider.getOrder('m1', 'pay-1').held).toBe('2500');
    expect(refusal(() => provider.splitReturn('m1', { ...ret, amount: 2501n }))).toMatchObject({
      status: 409,
      code: 'RETURN_MISMATCH',
    });
    expect(
      refusal(() => provider.splitReturn('m1', { ...ret, outReturnNo: 'ret-2', amount: 501n })),
    ).toMatchObject({
      status: 400,
      code: 'NOT_ENOUGH',
    });
    expect(
      refusal(() => provider.splitReturn('m1', { ...ret, outReturnNo: 'ret-3', account: 'nobody' })),
    ).toMatchObject({
      code: 'NOT_ENOUGH',
    });
    expect(
      refusal(() => provider.splitReturn('m1', { ...ret, outReturnNo: 'ret-4', outSplitNo: 'nope' })),
    ).toMatchObject({
      status: 404,
      code: 'SPLIT_NOT_EXIST',
    });
    provider.splitReturn('m1', { ...ret, outReturnNo: 'ret-5', amount: 500n });
    expect(provider.getOrder('m1', 'pay-1').held).toBe('3000');
    expectConserved(provider);
  });

  it('refunds only what is not with receivers; a split return makes it refundable again', () => {
    const { provider } = sharing();
    provider.split('m1', {
      outTradeNo: 'pay-1',
      outSplitNo: 's1',
      receivers: receivers(3000n),
      unfreezeRest: false,
    });
    expect(refusal(() => provider.refund('m1', refundInput('r1', 7001n)))).toMatchObject({
      code: 'NOT_ENOUGH',
    });
    provider.refund('m1', refundInput('r1', 7000n));
    expect(provider.getOrder('m1', 'pay-1').held).toBe('0');
    // Nothing held: a split now has nothing to take.
    expect(
      refusal(() =>
        provider.split('m1', {
          outTradeNo: 'pay-1',
          outSplitNo: 's2',
          receivers: receivers(1n),
          unfreezeRest: false,
        }),
      ),
    ).toMatchObject({ code: 'NOT_ENOUGH' });
    provider.splitReturn('m1', {
      outTradeNo: 'pay-1',
      outSplitNo: 's1',
      outReturnNo: 'x',
      account: 'acct-0',
      amount: 3000n,
    });
    provider.refund('m1', refundInput('r2', 3000n));
    jest.advanceTimersByTime(1000);
    expect(provider.getOrder('m1', 'pay-1')).toMatchObject({ refunded: '10000', held: '0' });
    expectConserved(provider);
  });

  it('keeps conservation over random sequences of splits, returns, unfreezes and refunds (seeded)', () => {
    const step = fc.oneof(
      fc.record({
        op: fc.constant('split' as const),
        amounts: fc.array(fc.bigInt({ min: 1n, max: 4000n }), { minLength: 1, maxLength: 3 }),
        rest: fc.boolean(),
      }),
      fc.record({
        op: fc.constant('return' as const),
        which: fc.nat(),
        amount: fc.bigInt({ min: 1n, max: 4000n }),
      }),
      fc.record({ op: fc.constant('unfreeze' as const) }),
      fc.record({ op: fc.constant('refund' as const), amount: fc.bigInt({ min: 1n, max: 6000n }) }),
    );
    fc.assert(
      fc.property(fc.array(step, { maxLength: 30 }), (steps) => {
        const { provider } = sharing();
        const splits: string[] = [];
        steps.forEach((s, i) => {
          try {
            switch (s.op) {
              case 'split':
                provider.split('m1', {
                  outTradeNo: 'pay-1',
                  outSplitNo: `s${i}`,
                  receivers: receivers(...s.amounts),
                  unfreezeRest: s.rest,
                });
                splits.push(`s${i}`);
                break;
              case 'return':
                if (splits.length === 0) return;
                provider.splitReturn('m1', {
                  outTradeNo: 'pay-1',
                  outSplitNo: splits[s.which % splits.length],
                  outReturnNo: `ret${i}`,
                  account: 'acct-0',
                  amount: s.amount,
                });
                break;
              case 'unfreeze':
                provider.unfreeze('m1', { outTradeNo: 'pay-1', outSplitNo: `u${i}` });
                break;
              case 'refund':
                provider.refund('m1', refundInput(`r${i}`, s.amount));
                break;
            }
          } catch (err) {
            check(err instanceof ProviderError && err.code === 'NOT_ENOUGH', `unexpected ${String(err)}`);
          }
          const problem = ledgerProblem(provider);
          check(problem === undefined, `after step ${i}: ${problem}`);
        });
      }),
      { seed: 4242, numRuns: 200 },
    );
  });
});

describe('statement', () => {
  it("lists the day's (UTC+8) successful payments and refunds with 0.6% fees", () => {
    const { provider } = setup({ refundDelayMs: 1000 });
    // 2025-03-01T02:00Z is 10:00 in UTC+8 on 2025-03-01.
    provider.createOrder('m1', orderInput({ amount: 12_345n }));
    const paid = provider.pay('pay-1', 'success');
    provider.createOrder('m1', orderInput({ outTradeNo: 'declined' }));
    provider.pay('declined', 'fail');
    // Refunds asked for at 23:59:59 in UTC+8 complete 1 s later: the next statement day.
    jest.advanceTimersByTime(14 * 3_600_000 - 1000);
    provider.refund('m1', refundInput('r1', 250n, 'pay-1', 12_345n));
    provider.refund('m1', refundInput('r2', 83n, 'pay-1', 12_345n));
    jest.advanceTimersByTime(999);
    expect(provider.statement('m1', '2025-03-02')).toBe(
      'kind,transaction_id,out_trade_no,out_refund_no,amount,fee,at\n',
    );
    jest.advanceTimersByTime(1);
    expect(provider.statement('m1', '2025-03-01')).toBe(
      [
        'kind,transaction_id,out_trade_no,out_refund_no,amount,fee,at',
        `PAYMENT,${paid.transactionId},pay-1,,12345,74,2025-03-01T02:00:00.000Z`,
        '',
      ].join('\n'),
    );
    expect(provider.statement('m1', '2025-03-02')).toBe(
      [
        'kind,transaction_id,out_trade_no,out_refund_no,amount,fee,at',
        `REFUND,${paid.transactionId},pay-1,r1,250,2,2025-03-01T16:00:00.000Z`,
        `REFUND,${paid.transactionId},pay-1,r2,83,0,2025-03-01T16:00:00.000Z`,
        '',
      ].join('\n'),
    );
    expect(provider.statement('m2', '2025-03-01')).toBe(
      'kind,transaction_id,out_trade_no,out_refund_no,amount,fee,at\n',
    );
  });
});
