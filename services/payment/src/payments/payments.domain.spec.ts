import { requestFingerprint } from '@citybase/platform';
import { PaymentScenario, PaymentStatus } from '@citybase/contracts/citybase/payment/v1/payment';
import type { ChannelOrder, ChannelOrderStatus } from '../channels/channel-adapter';
import {
  decideOrder,
  DEFAULT_EXPIRES_IN_SECONDS,
  OPEN_STATUSES,
  PaymentState,
  toCreatePaymentCommand,
} from './payments.domain';

const {
  PAYMENT_STATUS_CREATED: CREATED,
  PAYMENT_STATUS_PROCESSING: PROCESSING,
  PAYMENT_STATUS_UNKNOWN: UNKNOWN,
} = PaymentStatus;
const {
  PAYMENT_STATUS_SUCCEEDED: SUCCEEDED,
  PAYMENT_STATUS_FAILED: FAILED,
  PAYMENT_STATUS_EXPIRED: EXPIRED,
} = PaymentStatus;
const NOW = new Date('2026-11-22T10:00:00Z');

const order = (status: ChannelOrderStatus, over: Partial<ChannelOrder> = {}): ChannelOrder => ({
  paymentId: 'p-1',
  status,
  payUrl: 'https://pay.example/p-1',
  amountMinor: 100n,
  ...(status === 'SUCCESS' && { transactionId: 'T-1', paidAt: new Date('2026-11-22T09:59:00Z') }),
  ...over,
});
const payment = (status: PaymentStatus, channel = 'a'): PaymentState => ({
  status,
  channel,
  amountMinor: 100n,
});

describe('decideOrder: the one set of transition rules', () => {
  it.each(OPEN_STATUSES.map((s) => [PaymentStatus[s], s] as const))(
    '%s + SUCCESS > succeeded',
    (_n, from) => {
      expect(decideOrder(payment(from), 'a', order('SUCCESS'), NOW)).toEqual({
        kind: 'transition',
        transition: {
          from: OPEN_STATUSES,
          to: SUCCEEDED,
          channel: 'a',
          channelTransactionId: 'T-1',
          completedAt: new Date('2026-11-22T09:59:00Z'),
          payUrl: 'https://pay.example/p-1',
        },
      });
    },
  );

  it.each(OPEN_STATUSES.map((s) => [PaymentStatus[s], s] as const))(
    '%s + PAYERROR > failed with the reason',
    (_n, from) => {
      const d = decideOrder(payment(from), 'a', order('PAYERROR', { failureReason: 'BANK_DECLINED' }), NOW);
      expect(d).toMatchObject({
        kind: 'transition',
        transition: { to: FAILED, failureReason: 'BANK_DECLINED', completedAt: NOW },
      });
      const noReason = decideOrder(payment(from), 'a', order('PAYERROR'), NOW);
      expect(noReason).toMatchObject({ transition: { failureReason: 'CHANNEL_DECLINED' } });
    },
  );

  it.each(OPEN_STATUSES.map((s) => [PaymentStatus[s], s] as const))('%s + CLOSED > expired', (_n, from) => {
    expect(decideOrder(payment(from), 'a', order('CLOSED'), NOW)).toMatchObject({
      kind: 'transition',
      transition: { to: EXPIRED, failureReason: 'EXPIRED' },
    });
  });

  it('NOTPAY opens a created or unknown payment (processing, with the pay url) and leaves a processing one alone', () => {
    for (const from of [CREATED, UNKNOWN]) {
      expect(decideOrder(payment(from), 'a', order('NOTPAY'), NOW)).toEqual({
        kind: 'transition',
        transition: {
          from: [CREATED, UNKNOWN],
          to: PROCESSING,
          channel: 'a',
          payUrl: 'https://pay.example/p-1',
        },
      });
    }
    expect(decideOrder(payment(PROCESSING), 'a', order('NOTPAY'), NOW).kind).toBe('none');
  });

  it('a created payment not routed yet takes the channel that answered', () => {
    expect(decideOrder(payment(CREATED, ''), 'b', order('NOTPAY'), NOW)).toMatchObject({
      transition: { channel: 'b' },
    });
  });

  it.each([SUCCEEDED, FAILED, EXPIRED].map((s) => [PaymentStatus[s], s] as const))(
    'a final payment (%s) never changes: out-of-order news is ignored',
    (_n, from) => {
      for (const s of ['NOTPAY', 'PAYERROR', 'CLOSED'] as const) {
        expect(decideOrder(payment(from), 'a', order(s), NOW).kind).toBe('none');
      }
    },
  );

  it('SUCCESS for a final payment is only normal if it succeeded at that channel', () => {
    expect(decideOrder(payment(SUCCEEDED), 'a', order('SUCCESS'), NOW).kind).toBe('none');
    expect(decideOrder(payment(SUCCEEDED), 'b', order('SUCCESS'), NOW).kind).toBe('anomaly'); // paid twice
    expect(decideOrder(payment(EXPIRED), 'a', order('SUCCESS'), NOW).kind).toBe('anomaly');
    expect(decideOrder(payment(FAILED), 'a', order('SUCCESS'), NOW).kind).toBe('anomaly');
  });

  it('a channel the payment was not routed to only matters when it reports the payment paid', () => {
    expect(decideOrder(payment(PROCESSING, 'a'), 'b', order('SUCCESS'), NOW)).toMatchObject({
      kind: 'transition',
      transition: { to: SUCCEEDED, channel: 'b' },
    });
    for (const s of ['NOTPAY', 'PAYERROR', 'CLOSED'] as const) {
      expect(decideOrder(payment(PROCESSING, 'a'), 'b', order(s), NOW).kind).toBe('none');
    }
  });

  it('a SUCCESS for another amount than the payment is an anomaly, not a success', () => {
    expect(decideOrder(payment(PROCESSING), 'a', order('SUCCESS', { amountMinor: 99n }), NOW).kind).toBe(
      'anomaly',
    );
  });

  it('takes now when the channel gives no paid time', () => {
    const d = decideOrder(
      payment(PROCESSING),
      'a',
      order('SUCCESS', { paidAt: undefined, transactionId: undefined }),
      NOW,
    );
    expect(d).toMatchObject({ transition: { completedAt: NOW, channelTransactionId: '' } });
  });
});

describe('toCreatePaymentCommand', () => {
  const req = {
    requestId: 'r-1',
    tenancy: { operatorId: 'op-1', projectId: 'proj-1', merchantId: '' },
    merchantId: 'm-1',
    scenario: PaymentScenario.PAYMENT_SCENARIO_PARKING,
    amount: { currency: 'CNY', amountMinor: 500n },
    payerRef: 'plate-token',
    description: '',
    expiresInSeconds: 0,
    profitSharing: false,
  };

  it('defaults the expiry to 900 s and accepts 60..86400', () => {
    expect(toCreatePaymentCommand(req).expiresInSeconds).toBe(DEFAULT_EXPIRES_IN_SECONDS);
    expect(toCreatePaymentCommand({ ...req, expiresInSeconds: 60 }).expiresInSeconds).toBe(60);
    expect(toCreatePaymentCommand({ ...req, expiresInSeconds: 86_400 }).expiresInSeconds).toBe(86_400);
    for (const bad of [1, 59, 86_401, -60]) {
      expect(() => toCreatePaymentCommand({ ...req, expiresInSeconds: bad })).toThrow(
        /^expires_in_seconds: /,
      );
    }
  });

  it('accepts tenancy.merchant_id equal to merchant_id, refuses another', () => {
    expect(
      toCreatePaymentCommand({ ...req, tenancy: { ...req.tenancy, merchantId: 'm-1' } }).merchantId,
    ).toBe('m-1');
    expect(() => toCreatePaymentCommand({ ...req, tenancy: { ...req.tenancy, merchantId: 'm-2' } })).toThrow(
      'tenancy.merchant_id: must be empty or equal merchant_id',
    );
  });

  it('a different expiry or escrow choice is a different request for idempotency', () => {
    // the use-case pipeline fingerprints the validated command
    const fingerprint = requestFingerprint;
    const base = fingerprint(toCreatePaymentCommand(req));
    expect(fingerprint(toCreatePaymentCommand({ ...req, expiresInSeconds: 900 }))).toBe(base); // 0 means 900
    expect(fingerprint(toCreatePaymentCommand({ ...req, expiresInSeconds: 901 }))).not.toBe(base);
    expect(fingerprint(toCreatePaymentCommand({ ...req, profitSharing: true }))).not.toBe(base);
  });
});
