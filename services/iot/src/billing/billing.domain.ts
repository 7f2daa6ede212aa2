/**
 * Pure rules of iot's payments (docs/iot.md "Billing"): which payment a need makes, and when a
 * failed call is tried again.
 */
import { PaymentScenario } from '@citybase/contracts/citybase/payment/v1/payment';

export type BillingPurpose = 'PARKING' | 'CHARGING';
/** How a session's payment ended: a plain payment's status, or a checkout's end (COMPLETED is SUCCEEDED). */
export type PaymentOutcome = 'SUCCEEDED' | 'FAILED' | 'EXPIRED' | 'RELEASED';
/** A plain CreatePayment, or payment's CreateCheckout (money + points + coupon) when the app asked. */
export type BillingKind = 'PAYMENT' | 'CHECKOUT';

/** What the app asked the checkout to use besides money (PayChargingSession). */
export interface CheckoutChoice {
  points: bigint;
  /** A code to claim, or a coupon the user holds (at most one of the two). */
  couponCode: string;
  couponId: string;
  /** Empty: the paying user. */
  pointsHolderId: string;
}

/**
 * Payment's request id of a session's payment: the same session (and, for parking, the same exit
 * attempt after a failed payment) never makes two.
 */
export const billingCallId = (purpose: BillingPurpose, subjectId: string, attempt = 1): string =>
  `iot:${purpose.toLowerCase()}:${subjectId}:${attempt}`;

/** Backoff of a failed call: 1 s doubling to 60 s. */
export function nextAttemptDelayMs(attempts: number): number {
  return Math.min(60_000, 1_000 * 2 ** Math.min(attempts, 6));
}

/**
 * Whether a payment's outcome can be one of iot's bills: a parking or charging payment that is not
 * a checkout's money part (the checkout's own end is what counts). Pure: also the consumer's
 * `only`, so every other payment costs iot no database work.
 */
export function billedPayment(e: { scenario: PaymentScenario; checkoutId: string }): boolean {
  return (
    (e.scenario === PaymentScenario.PAYMENT_SCENARIO_PARKING ||
      e.scenario === PaymentScenario.PAYMENT_SCENARIO_EV_CHARGING) &&
    e.checkoutId === ''
  );
}

/** Whether a checkout's end can be one of iot's bills: an EV charging checkout (as billedPayment). */
export function billedCheckout(e: { scenario: PaymentScenario }): boolean {
  return e.scenario === PaymentScenario.PAYMENT_SCENARIO_EV_CHARGING;
}
