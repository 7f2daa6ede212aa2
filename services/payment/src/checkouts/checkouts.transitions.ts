/**
 * The checkout saga as a pure state machine (no I/O): which step comes next, and what a step's
 * outcome or a piece of news (the payment's outcome, a cancel, the expiry) makes of the saga.
 * checkouts.saga.ts carries the steps out and persists each outcome before the next; the recovery
 * job re-runs the step a row is at, which is safe because every call is idempotent (request ids
 * derived from the checkout id and the step).
 *
 *   CLAIM_COUPON > RESERVE_COUPON > RESERVE_POINTS > OPEN_PAYMENT > AWAIT_PAYMENT > CONFIRM > DONE
 *        \______________\________________\_______________\_______________\________> RELEASE > DONE
 *
 * Forward steps are skipped when they have nothing to do (no coupon, no points, no money). Before
 * AWAIT_PAYMENT the saga may be released at any time (a refusal, a cancel, the expiry); while the
 * payment is open only the payment's outcome decides (a cancel closes the payment at the channel
 * first, so a payer cannot pay a released checkout); once the payment succeeded (or when there is
 * nothing to pay) CONFIRM is retried while points or marketing do not answer; a reservation they
 * refuse to confirm (it ran out, or was cancelled) turns the saga to RELEASE from CONFIRM, which
 * refunds the money as well (CONFIRM_REFUSED): no money is kept for goods not fully paid.
 */

export const STEPS = [
  'CLAIM_COUPON',
  'RESERVE_COUPON',
  'RESERVE_POINTS',
  'OPEN_PAYMENT',
  'AWAIT_PAYMENT',
  'CONFIRM',
  'RELEASE',
  'DONE',
] as const;
export type Step = (typeof STEPS)[number];

export type CheckoutState = 'PENDING' | 'AWAITING_PAYMENT' | 'COMPLETED' | 'RELEASED';

/** What the saga needs to know of a checkout to decide. */
export interface SagaView {
  step: Step;
  couponCode: string;
  couponId: string;
  points: bigint;
  moneyMinor: bigint;
}

/** Reasons a checkout is released (Checkout.release_reason, CheckoutReleased.reason). */
export const ReleaseReasons = {
  paymentFailed: 'PAYMENT_FAILED',
  paymentExpired: 'EXPIRED',
  expired: 'EXPIRED',
  cancelled: 'CANCELLED',
  couponRefused: 'COUPON_REFUSED',
  pointsRefused: 'POINTS_REFUSED',
  pointsExceedDue: 'POINTS_EXCEED_DUE',
  paymentRefused: 'PAYMENT_REFUSED',
  /** The payment succeeded but a reservation was refused confirmation: the money is refunded. */
  confirmRefused: 'CONFIRM_REFUSED',
} as const;

/** The public status of a saga at `step`. */
export function statusOf(step: Step, releaseReason: string): CheckoutState {
  switch (step) {
    case 'CLAIM_COUPON':
    case 'RESERVE_COUPON':
    case 'RESERVE_POINTS':
    case 'OPEN_PAYMENT':
      return 'PENDING';
    case 'AWAIT_PAYMENT':
    case 'CONFIRM':
      return 'AWAITING_PAYMENT';
    case 'RELEASE':
      return 'AWAITING_PAYMENT';
    case 'DONE':
      return releaseReason === '' ? 'COMPLETED' : 'RELEASED';
  }
}

/** The first step of a new checkout. */
export function firstStep(v: Omit<SagaView, 'step' | 'moneyMinor'>): Step {
  if (v.couponCode !== '') return 'CLAIM_COUPON';
  if (v.couponId !== '') return 'RESERVE_COUPON';
  if (v.points > 0n) return 'RESERVE_POINTS';
  return 'OPEN_PAYMENT';
}

/**
 * The step after a forward step succeeded. OPEN_PAYMENT with nothing to pay goes to CONFIRM at
 * once; with money to pay, to AWAIT_PAYMENT.
 */
export function nextStep(v: SagaView): Step {
  switch (v.step) {
    case 'CLAIM_COUPON':
      return 'RESERVE_COUPON';
    case 'RESERVE_COUPON':
      return v.points > 0n ? 'RESERVE_POINTS' : 'OPEN_PAYMENT';
    case 'RESERVE_POINTS':
      return 'OPEN_PAYMENT';
    case 'OPEN_PAYMENT':
      return v.moneyMinor > 0n ? 'AWAIT_PAYMENT' : 'CONFIRM';
    case 'AWAIT_PAYMENT':
      return 'CONFIRM';
    case 'CONFIRM':
    case 'RELEASE':
    case 'DONE':
      return 'DONE';
  }
}

/** News that may change a saga's course. */
export type SagaNews =
  | { kind: 'payment_succeeded' }
  | { kind: 'payment_failed'; expired: boolean }
  | { kind: 'cancel' }
  | { kind: 'expired' }
  | { kind: 'refused'; reason: string }
  /** Points or marketing refused to confirm a reservation of a paid (or zero-money) checkout. */
  | { kind: 'confirm_refused' };

export type SagaDecision =
  | { kind: 'go'; step: Step; releaseReason?: string }
  /** The payment is open: close it at the channel first; its outcome decides. */
  | { kind: 'close_payment'; releaseReason: string }
  | { kind: 'none'; why: string };

/** What news makes of a saga at its step. */
export function decide(step: Step, news: SagaNews): SagaDecision {
  const forward = step === 'CLAIM_COUPON' || step === 'RESERVE_COUPON' || step === 'RESERVE_POINTS';
  switch (news.kind) {
    case 'payment_succeeded':
      if (step === 'AWAIT_PAYMENT' || step === 'OPEN_PAYMENT') return { kind: 'go', step: 'CONFIRM' };
      if (step === 'RELEASE')
        // the payer paid a payment the saga is releasing: cannot happen (the payment is closed
        // before a release while it is open); confirm nothing, the money is refunded by an operator
        return { kind: 'none', why: 'payment succeeded while releasing' };
      return { kind: 'none', why: `payment succeeded at step ${step}` };
    case 'payment_failed':
      if (step === 'AWAIT_PAYMENT' || step === 'OPEN_PAYMENT')
        return {
          kind: 'go',
          step: 'RELEASE',
          releaseReason: news.expired ? ReleaseReasons.paymentExpired : ReleaseReasons.paymentFailed,
        };
      return { kind: 'none', why: `payment failed at step ${step}` };
    case 'cancel':
    case 'expired': {
      const reason = news.kind === 'cancel' ? ReleaseReasons.cancelled : ReleaseReasons.expired;
      if (forward) return { kind: 'go', step: 'RELEASE', releaseReason: reason };
      // OPEN_PAYMENT may have opened the order at a channel: close it like an open payment
      if (step === 'OPEN_PAYMENT' || step === 'AWAIT_PAYMENT')
        return { kind: 'close_payment', releaseReason: reason };
      return { kind: 'none', why: `cannot ${news.kind} at step ${step}` };
    }
    case 'refused':
      if (forward || step === 'OPEN_PAYMENT')
        return { kind: 'go', step: 'RELEASE', releaseReason: news.reason };
      return { kind: 'none', why: `refusal at step ${step}` };
    case 'confirm_refused':
      if (step === 'CONFIRM')
        return { kind: 'go', step: 'RELEASE', releaseReason: ReleaseReasons.confirmRefused };
      return { kind: 'none', why: `confirm refused at step ${step}` };
  }
}

/** Whether the step may have made a call to the callee (so the release must look for its effect). */
export function reached(step: Step, target: Step): boolean {
  if (step === 'DONE') return true;
  return STEPS.indexOf(step) >= STEPS.indexOf(target);
}
