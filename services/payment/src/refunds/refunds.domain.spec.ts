import { PaymentStatus, RefundStatus } from '@citybase/contracts/citybase/payment/v1/payment';
import type { ChannelRefund } from '../channels/channel-adapter';
import { decideRefund, refundRefusal, toRefundPaymentCommand } from './refunds.domain';

const NOW = new Date('2026-11-22T10:00:00Z');
const news = (status: ChannelRefund['status'], over: Partial<ChannelRefund> = {}): ChannelRefund => ({
  refundId: 'r-1',
  paymentId: 'p-1',
  status,
  amountMinor: 300n,
  channelRefundId: 'SBXR-1',
  ...over,
});
const processing = { status: RefundStatus.REFUND_STATUS_PROCESSING, amountMinor: 300n };

describe('decideRefund', () => {
  it('processing + SUCCESS > succeeded with the channel refund id and time', () => {
    const completedAt = new Date('2026-11-22T09:00:00Z');
    expect(decideRefund(processing, news('SUCCESS', { completedAt }), NOW)).toEqual({
      kind: 'transition',
      transition: { to: RefundStatus.REFUND_STATUS_SUCCEEDED, channelRefundId: 'SBXR-1', completedAt },
    });
  });

  it('processing + ABNORMAL > failed with the reason', () => {
    expect(decideRefund(processing, news('ABNORMAL', { failureReason: 'REFUND_FAILED' }), NOW)).toMatchObject(
      {
        kind: 'transition',
        transition: {
          to: RefundStatus.REFUND_STATUS_FAILED,
          failureReason: 'REFUND_FAILED',
          completedAt: NOW,
        },
      },
    );
    expect(decideRefund(processing, news('ABNORMAL'), NOW)).toMatchObject({
      transition: { failureReason: 'CHANNEL_ABNORMAL' },
    });
  });

  it('still processing, or final already: nothing changes (duplicates, out of order)', () => {
    expect(decideRefund(processing, news('PROCESSING'), NOW).kind).toBe('none');
    for (const status of [RefundStatus.REFUND_STATUS_SUCCEEDED, RefundStatus.REFUND_STATUS_FAILED]) {
      for (const s of ['PROCESSING', 'SUCCESS', 'ABNORMAL'] as const) {
        expect(decideRefund({ status, amountMinor: 300n }, news(s), NOW).kind).toBe('none');
      }
    }
  });

  it('another amount than the refund is an anomaly', () => {
    expect(decideRefund(processing, news('SUCCESS', { amountMinor: 301n }), NOW).kind).toBe('anomaly');
  });
});

describe('toRefundPaymentCommand', () => {
  const req = {
    requestId: 'k-1',
    paymentId: '0A1B2C3D-0000-4000-8000-000000000000',
    amount: { currency: 'CNY', amountMinor: 1n },
    reason: ' damaged ',
  };

  it('normalizes the payment id and the reason', () => {
    expect(toRefundPaymentCommand(req)).toEqual({
      requestId: 'k-1',
      paymentId: '0a1b2c3d-0000-4000-8000-000000000000',
      currency: 'CNY',
      amountMinor: 1n,
      reason: 'damaged',
    });
  });

  it('names the field of bad input', () => {
    expect(() => toRefundPaymentCommand({ ...req, amount: { currency: 'CNY', amountMinor: 0n } })).toThrow(
      'amount.amount_minor: must be positive',
    );
    expect(() => toRefundPaymentCommand({ ...req, reason: 'x'.repeat(201) })).toThrow(
      'reason: must be at most 200 characters',
    );
    expect(() => toRefundPaymentCommand({ ...req, paymentId: 'nope' })).toThrow('payment_id: must be a UUID');
  });
});

describe('refundRefusal: the rules of every refund (RefundPayment and settlement instructions)', () => {
  const succeeded = { status: PaymentStatus.PAYMENT_STATUS_SUCCEEDED, currency: 'CNY' };
  const cny = (amountMinor: bigint) => ({ currency: 'CNY', amountMinor });

  it('up to what is left to refund of a succeeded payment', () => {
    expect(refundRefusal(succeeded, cny(500n), 500n)).toBeUndefined();
    expect(refundRefusal(succeeded, cny(1n), 500n)).toBeUndefined();
    expect(refundRefusal(succeeded, cny(501n), 500n)).toBe('REFUND_EXCEEDS_PAID');
    expect(refundRefusal(succeeded, cny(1n), 0n)).toBe('REFUND_EXCEEDS_PAID');
  });

  it("only in the payment's currency, only of a succeeded payment; currency checked first", () => {
    expect(refundRefusal(succeeded, { currency: 'USD', amountMinor: 1n }, 500n)).toBe('CURRENCY_MISMATCH');
    for (const status of [
      PaymentStatus.PAYMENT_STATUS_CREATED,
      PaymentStatus.PAYMENT_STATUS_PROCESSING,
      PaymentStatus.PAYMENT_STATUS_FAILED,
      PaymentStatus.PAYMENT_STATUS_EXPIRED,
      PaymentStatus.PAYMENT_STATUS_UNKNOWN,
    ]) {
      expect(refundRefusal({ status, currency: 'CNY' }, cny(1n), 500n)).toBe('PAYMENT_NOT_SUCCEEDED');
      expect(refundRefusal({ status, currency: 'CNY' }, { currency: 'USD', amountMinor: 1n }, 500n)).toBe(
        'CURRENCY_MISMATCH',
      );
    }
  });
});
