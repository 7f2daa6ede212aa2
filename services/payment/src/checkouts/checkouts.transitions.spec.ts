import { decide, firstStep, nextStep, reached, statusOf } from './checkouts.transitions';

const view = (over: Partial<Parameters<typeof nextStep>[0]> = {}) => ({
  step: 'CLAIM_COUPON' as const,
  couponCode: 'X',
  couponId: '',
  points: 10n,
  moneyMinor: 100n,
  ...over,
});

describe('checkout saga', () => {
  it('starts at the first step that has something to do', () => {
    expect(firstStep({ couponCode: 'X', couponId: '', points: 1n })).toBe('CLAIM_COUPON');
    expect(firstStep({ couponCode: '', couponId: 'c', points: 1n })).toBe('RESERVE_COUPON');
    expect(firstStep({ couponCode: '', couponId: '', points: 1n })).toBe('RESERVE_POINTS');
    expect(firstStep({ couponCode: '', couponId: '', points: 0n })).toBe('OPEN_PAYMENT');
  });

  it('goes forward skipping steps with nothing to do; zero money confirms at once', () => {
    expect(nextStep(view({ step: 'CLAIM_COUPON' }))).toBe('RESERVE_COUPON');
    expect(nextStep(view({ step: 'RESERVE_COUPON' }))).toBe('RESERVE_POINTS');
    expect(nextStep(view({ step: 'RESERVE_COUPON', points: 0n }))).toBe('OPEN_PAYMENT');
    expect(nextStep(view({ step: 'OPEN_PAYMENT' }))).toBe('AWAIT_PAYMENT');
    expect(nextStep(view({ step: 'OPEN_PAYMENT', moneyMinor: 0n }))).toBe('CONFIRM');
    expect(nextStep(view({ step: 'CONFIRM' }))).toBe('DONE');
  });

  it('confirms on the payment success, releases on its failure or expiry', () => {
    expect(decide('AWAIT_PAYMENT', { kind: 'payment_succeeded' })).toEqual({ kind: 'go', step: 'CONFIRM' });
    expect(decide('AWAIT_PAYMENT', { kind: 'payment_failed', expired: false })).toEqual({
      kind: 'go',
      step: 'RELEASE',
      releaseReason: 'PAYMENT_FAILED',
    });
    expect(decide('AWAIT_PAYMENT', { kind: 'payment_failed', expired: true })).toMatchObject({
      releaseReason: 'EXPIRED',
    });
  });

  it('releases at once before the payment is open; closes an open payment first', () => {
    for (const step of ['CLAIM_COUPON', 'RESERVE_COUPON', 'RESERVE_POINTS'] as const) {
      expect(decide(step, { kind: 'cancel' })).toEqual({
        kind: 'go',
        step: 'RELEASE',
        releaseReason: 'CANCELLED',
      });
      expect(decide(step, { kind: 'expired' })).toEqual({
        kind: 'go',
        step: 'RELEASE',
        releaseReason: 'EXPIRED',
      });
    }
    expect(decide('AWAIT_PAYMENT', { kind: 'cancel' })).toEqual({
      kind: 'close_payment',
      releaseReason: 'CANCELLED',
    });
    expect(decide('OPEN_PAYMENT', { kind: 'expired' })).toEqual({
      kind: 'close_payment',
      releaseReason: 'EXPIRED',
    });
  });

  it('a reservation refused confirmation after the payment turns CONFIRM to RELEASE (money refunded)', () => {
    expect(decide('CONFIRM', { kind: 'confirm_refused' })).toEqual({
      kind: 'go',
      step: 'RELEASE',
      releaseReason: 'CONFIRM_REFUSED',
    });
    for (const step of ['AWAIT_PAYMENT', 'RELEASE', 'DONE'] as const)
      expect(decide(step, { kind: 'confirm_refused' }).kind).toBe('none');
  });

  it('once paid (CONFIRM) or finished, nothing else turns the saga back', () => {
    for (const step of ['CONFIRM', 'DONE'] as const) {
      expect(decide(step, { kind: 'cancel' }).kind).toBe('none');
      expect(decide(step, { kind: 'expired' }).kind).toBe('none');
      expect(decide(step, { kind: 'payment_failed', expired: false }).kind).toBe('none');
      expect(decide(step, { kind: 'refused', reason: 'X' }).kind).toBe('none');
    }
    expect(decide('RELEASE', { kind: 'payment_succeeded' }).kind).toBe('none');
  });

  it('a release looks for what the steps reached may have reserved', () => {
    expect(reached('RESERVE_COUPON', 'RESERVE_COUPON')).toBe(true);
    expect(reached('CLAIM_COUPON', 'RESERVE_COUPON')).toBe(false);
    expect(reached('AWAIT_PAYMENT', 'RESERVE_POINTS')).toBe(true);
    expect(reached('RESERVE_COUPON', 'RESERVE_POINTS')).toBe(false);
  });

  it('maps steps to the public status', () => {
    expect(statusOf('RESERVE_POINTS', '')).toBe('PENDING');
    expect(statusOf('AWAIT_PAYMENT', '')).toBe('AWAITING_PAYMENT');
    expect(statusOf('DONE', '')).toBe('COMPLETED');
    expect(statusOf('DONE', 'EXPIRED')).toBe('RELEASED');
  });
});
