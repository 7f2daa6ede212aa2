import { PaymentStatus } from '@citybase/contracts/citybase/payment/v1/payment';
import type { ChannelSplitRequested } from '@citybase/contracts/citybase/settlement/v1/events';
import type { SplitResult } from '../channels/channel-adapter';
import {
  InstructedPayment,
  instructedRefundAmount,
  planInstruction,
  positiveMinor,
  refundInstruction,
  splitInstruction,
  splitOutcome,
  splitReturnInstruction,
  splitReturnOutcome,
  UnanswerableInstructionError,
} from './instructions.domain';

const PAYMENT_ID = '0a1b2c3d-0000-4000-8000-000000000001';
const tenancy = { operatorId: 'op-1', projectId: 'proj-1', merchantId: '' };
const paid: InstructedPayment = {
  operatorId: 'op-1',
  projectId: 'proj-1',
  status: PaymentStatus.PAYMENT_STATUS_SUCCEEDED,
  profitSharing: true,
  currency: 'CNY',
};

const splitEvent = (over: Partial<ChannelSplitRequested> = {}): ChannelSplitRequested => ({
  instructionId: 'split-1',
  paymentId: PAYMENT_ID,
  tenancy,
  receivers: [
    { account: 'merchant:m-1', amount: { currency: 'CNY', amountMinor: 700n }, description: 'goods' },
    { account: 'platform:op-1', amount: { currency: 'CNY', amountMinor: 50n }, description: 'commission' },
  ],
  unfreezeRest: true,
  occurredAt: undefined,
  ...over,
});

const asChannelInstruction = (e: ChannelSplitRequested) => splitInstruction(e);

const returnInstruction = (over: { amount?: bigint; split?: string; currency?: string } = {}) =>
  splitReturnInstruction({
    instructionId: 'ret-1',
    paymentId: PAYMENT_ID,
    tenancy,
    splitInstructionId: over.split ?? 'split-1',
    account: 'merchant:m-1',
    amount: { currency: over.currency ?? 'CNY', amountMinor: over.amount ?? 200n },
    occurredAt: undefined,
  });

describe('recording instructions', () => {
  it('keeps what settlement asked, amounts as strings, the payment id normalized', () => {
    expect(splitInstruction(splitEvent({ paymentId: PAYMENT_ID.toUpperCase() }))).toEqual({
      instructionId: 'split-1',
      paymentId: PAYMENT_ID,
      operatorId: 'op-1',
      projectId: 'proj-1',
      kind: 'split',
      payload: {
        receivers: [
          { account: 'merchant:m-1', currency: 'CNY', amount_minor: '700', description: 'goods' },
          { account: 'platform:op-1', currency: 'CNY', amount_minor: '50', description: 'commission' },
        ],
        unfreeze_rest: true,
      },
    });
    expect(returnInstruction().payload).toEqual({
      split_instruction_id: 'split-1',
      account: 'merchant:m-1',
      currency: 'CNY',
      amount_minor: '200',
    });
    expect(
      refundInstruction({
        instructionId: 'rf-1',
        paymentId: PAYMENT_ID,
        tenancy: undefined,
        amount: undefined,
        reason: 'dispute',
        occurredAt: undefined,
      }),
    ).toMatchObject({
      kind: 'refund',
      operatorId: '',
      projectId: '',
      payload: { currency: '', amount_minor: '0', reason: 'dispute' },
    });
  });

  it('an instruction without an id cannot be recorded or answered', () => {
    expect(() => splitInstruction(splitEvent({ instructionId: ' ' }))).toThrow(UnanswerableInstructionError);
  });
});

describe('planInstruction', () => {
  it('a split of a succeeded profit-sharing payment: split with the receivers and unfreeze_rest', () => {
    expect(planInstruction(asChannelInstruction(splitEvent()), paid)).toEqual({
      kind: 'split',
      receivers: [
        { account: 'merchant:m-1', amountMinor: 700n, description: 'goods' },
        { account: 'platform:op-1', amountMinor: 50n, description: 'commission' },
      ],
      unfreezeRest: true,
    });
  });

  it('no receivers and unfreeze_rest: unfreeze; no receivers and nothing to unfreeze: invalid', () => {
    expect(planInstruction(asChannelInstruction(splitEvent({ receivers: [] })), paid)).toEqual({
      kind: 'unfreeze',
    });
    expect(
      planInstruction(asChannelInstruction(splitEvent({ receivers: [], unfreezeRest: false })), paid),
    ).toMatchObject({ kind: 'fail', reason: 'INVALID_INSTRUCTION' });
  });

  it('no payment, or one of another tenancy: PAYMENT_NOT_FOUND alike', () => {
    const split = asChannelInstruction(splitEvent());
    expect(planInstruction(split, undefined)).toMatchObject({ kind: 'fail', reason: 'PAYMENT_NOT_FOUND' });
    expect(planInstruction(split, { ...paid, operatorId: 'op-2' })).toMatchObject({
      kind: 'fail',
      reason: 'PAYMENT_NOT_FOUND',
    });
    expect(planInstruction(split, { ...paid, projectId: 'proj-2' })).toMatchObject({
      kind: 'fail',
      reason: 'PAYMENT_NOT_FOUND',
    });
    expect(planInstruction(returnInstruction(), { ...paid, operatorId: 'op-2' })).toMatchObject({
      reason: 'PAYMENT_NOT_FOUND',
    });
  });

  it.each([
    ['not profit sharing', { profitSharing: false }],
    ['processing', { status: PaymentStatus.PAYMENT_STATUS_PROCESSING }],
    ['failed', { status: PaymentStatus.PAYMENT_STATUS_FAILED }],
    ['expired', { status: PaymentStatus.PAYMENT_STATUS_EXPIRED }],
  ])('a payment %s is not splittable (split and split return)', (_n, over) => {
    expect(planInstruction(asChannelInstruction(splitEvent()), { ...paid, ...over })).toMatchObject({
      kind: 'fail',
      reason: 'PAYMENT_NOT_SPLITTABLE',
    });
    expect(planInstruction(returnInstruction(), { ...paid, ...over })).toMatchObject({
      kind: 'fail',
      reason: 'PAYMENT_NOT_SPLITTABLE',
    });
  });

  it.each([
    [
      'a zero amount',
      { amount: { currency: 'CNY', amountMinor: 0n } },
      'receivers[0].amount must be positive',
    ],
    [
      'a negative amount',
      { amount: { currency: 'CNY', amountMinor: -5n } },
      'receivers[0].amount must be positive',
    ],
    ['no amount', { amount: undefined }, 'receivers[0].amount must be positive'],
    [
      'another currency',
      { amount: { currency: 'USD', amountMinor: 5n } },
      "receivers[0].amount must be in the payment's currency CNY",
    ],
    ['no account', { account: ' ' }, 'receivers[0].account is required'],
  ])('a receiver with %s: INVALID_INSTRUCTION naming it', (_n, over, why) => {
    const receivers = [
      { account: 'merchant:m-1', amount: { currency: 'CNY', amountMinor: 1n }, description: '', ...over },
    ];
    expect(planInstruction(asChannelInstruction(splitEvent({ receivers })), paid)).toEqual({
      kind: 'fail',
      reason: 'INVALID_INSTRUCTION',
      why,
    });
  });

  it('an instruction id the channel cannot take as its id: INVALID_INSTRUCTION', () => {
    for (const instructionId of ['x'.repeat(65), 'has space', 'ümlaut']) {
      expect(planInstruction(asChannelInstruction(splitEvent({ instructionId })), paid)).toMatchObject({
        kind: 'fail',
        reason: 'INVALID_INSTRUCTION',
      });
    }
  });

  it('a split return: from the split named, of the amount, for the account', () => {
    expect(planInstruction(returnInstruction(), paid)).toEqual({
      kind: 'split_return',
      splitId: 'split-1',
      account: 'merchant:m-1',
      amountMinor: 200n,
    });
    expect(
      planInstruction(returnInstruction(), paid, {
        kind: 'split',
        paymentId: PAYMENT_ID,
        status: 'succeeded',
      }),
    ).toMatchObject({ kind: 'split_return' });
    // a split that failed here is not at the channel either: the channel says so (SPLIT_NOT_EXIST)
    expect(
      planInstruction(returnInstruction(), paid, { kind: 'split', paymentId: PAYMENT_ID, status: 'failed' }),
    ).toMatchObject({ kind: 'split_return' });
  });

  it('a split return waits while its split is still pending here', () => {
    expect(
      planInstruction(returnInstruction(), paid, { kind: 'split', paymentId: PAYMENT_ID, status: 'pending' }),
    ).toMatchObject({ kind: 'wait' });
  });

  it('a split return naming no split of the payment, or with a bad amount, is invalid', () => {
    const invalid = { kind: 'fail', reason: 'INVALID_INSTRUCTION' };
    expect(
      planInstruction(returnInstruction(), paid, {
        kind: 'refund',
        paymentId: PAYMENT_ID,
        status: 'pending',
      }),
    ).toMatchObject(invalid);
    expect(
      planInstruction(returnInstruction(), paid, {
        kind: 'split',
        paymentId: '0a1b2c3d-0000-4000-8000-000000000009',
        status: 'succeeded',
      }),
    ).toMatchObject(invalid);
    expect(planInstruction(returnInstruction({ split: '' }), paid)).toMatchObject(invalid);
    expect(planInstruction(returnInstruction({ amount: 0n }), paid)).toMatchObject(invalid);
    expect(planInstruction(returnInstruction({ currency: 'USD' }), paid)).toMatchObject(invalid);
  });
});

describe('channel answers', () => {
  const result = (
    status: SplitResult['status'],
    results: ('SUCCESS' | 'FAILED' | 'PENDING')[],
  ): SplitResult => ({
    splitId: 'split-1',
    status,
    receivers: results.map((r, i) => ({
      account: `a-${i}`,
      amountMinor: BigInt(i + 1),
      description: '',
      result: r,
    })),
  });

  it('FINISHED: succeeded with the receivers the channel paid', () => {
    expect(splitOutcome(result('FINISHED', ['SUCCESS', 'SUCCESS']))).toEqual({
      kind: 'succeeded',
      receivers: [
        { account: 'a-0', amountMinor: 1n },
        { account: 'a-1', amountMinor: 2n },
      ],
    });
    expect(splitOutcome(result('FINISHED', ['SUCCESS', 'FAILED']))).toEqual({
      kind: 'succeeded',
      receivers: [{ account: 'a-0', amountMinor: 1n }],
    });
    expect(splitOutcome(result('FINISHED', []))).toEqual({ kind: 'succeeded', receivers: [] });
  });

  it('processing, or a receiver pending: ask again; FAILED: failed', () => {
    expect(splitOutcome(result('PROCESSING', ['PENDING'])).kind).toBe('pending');
    expect(splitOutcome(result('FINISHED', ['SUCCESS', 'PENDING'])).kind).toBe('pending');
    expect(splitOutcome(result('FAILED', ['FAILED']))).toEqual({
      kind: 'failed',
      reason: 'CHANNEL_SPLIT_FAILED',
    });
  });

  it('split returns', () => {
    expect(splitReturnOutcome('SUCCESS')).toEqual({ kind: 'succeeded', receivers: [] });
    expect(splitReturnOutcome('PROCESSING').kind).toBe('pending');
    expect(splitReturnOutcome('FAILED')).toEqual({ kind: 'failed', reason: 'CHANNEL_SPLIT_RETURN_FAILED' });
  });
});

describe('amounts and refunds', () => {
  it('positiveMinor takes positive int64 strings only', () => {
    expect(positiveMinor('1')).toBe(1n);
    expect(positiveMinor('9223372036854775807')).toBe(9_223_372_036_854_775_807n);
    for (const bad of ['0', '-1', '1.5', '', 'abc', '9223372036854775808', '99999999999999999999'])
      expect(positiveMinor(bad)).toBeUndefined();
  });

  it('instructedRefundAmount: the amount and a reason, or why not', () => {
    expect(instructedRefundAmount({ currency: 'CNY', amount_minor: '300', reason: ' dispute ' })).toEqual({
      kind: 'ok',
      currency: 'CNY',
      amountMinor: 300n,
      reason: 'dispute',
    });
    expect(instructedRefundAmount({ currency: 'CNY', amount_minor: '300', reason: '' })).toMatchObject({
      reason: 'settlement instruction',
    });
    expect(
      instructedRefundAmount({ currency: 'CNY', amount_minor: '1', reason: 'r'.repeat(300) }),
    ).toMatchObject({ reason: 'r'.repeat(200) });
    expect(instructedRefundAmount({ currency: 'CNY', amount_minor: '0', reason: '' }).kind).toBe('invalid');
    expect(instructedRefundAmount({ currency: '', amount_minor: '5', reason: '' }).kind).toBe('invalid');
  });
});
