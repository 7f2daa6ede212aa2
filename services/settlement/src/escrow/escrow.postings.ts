import { AccountKind } from '@citybase/contracts/citybase/settlement/v1/settlement';
import type { AccountKey } from '../ledger/ledger.service';
import { SPLIT_ROLES, SplitParts } from './escrow.domain';

/**
 * The ledger postings of escrow's flows, as pure functions (docs/settlement-escrow.md, "Postings"):
 * which of an order's accounts each flow debits and credits, by how much, under which idempotency
 * key. Amounts are signed minor units, debit positive; every posting sums to zero. The transitions
 * turn account names into ids (LedgerService) and post.
 */

/** The ledger accounts an order's money moves through (docs/settlement-escrow.md, "Accounts"). */
export type OrderAccountName =
  'clearing' | 'escrow' | 'merchant' | 'property' | 'commission' | 'tax' | 'wallet';

export interface OrderAccountsOf {
  operator_id: string;
  project_id: string;
  merchant_id: string;
  channel_id: string;
  payer_ref: string;
  currency: string;
}

export const orderAccounts = (o: OrderAccountsOf): Record<OrderAccountName, AccountKey> => ({
  clearing: {
    kind: AccountKind.ACCOUNT_KIND_CHANNEL_CLEARING,
    currency: o.currency,
    operatorId: o.operator_id,
    projectId: o.project_id,
    ownerRef: o.channel_id,
  },
  escrow: {
    kind: AccountKind.ACCOUNT_KIND_ESCROW,
    currency: o.currency,
    operatorId: o.operator_id,
    projectId: o.project_id,
  },
  merchant: {
    kind: AccountKind.ACCOUNT_KIND_MERCHANT_PAYABLE,
    currency: o.currency,
    operatorId: o.operator_id,
    projectId: o.project_id,
    merchantId: o.merchant_id,
  },
  property: {
    kind: AccountKind.ACCOUNT_KIND_PROPERTY_SHARE,
    currency: o.currency,
    operatorId: o.operator_id,
    projectId: o.project_id,
  },
  commission: {
    kind: AccountKind.ACCOUNT_KIND_PLATFORM_COMMISSION,
    currency: o.currency,
    operatorId: o.operator_id,
  },
  tax: { kind: AccountKind.ACCOUNT_KIND_TAX_PAYABLE, currency: o.currency, operatorId: o.operator_id },
  wallet: {
    kind: AccountKind.ACCOUNT_KIND_RESIDENT_WALLET,
    currency: o.currency,
    operatorId: o.operator_id,
    ownerRef: o.payer_ref,
  },
});

/**
 * One line of a planned posting: an account of the order (by name) or another account (a checkout
 * part's payable or funder: by key), and the signed amount (debit positive).
 */
export interface PlannedLine {
  account: OrderAccountName | AccountKey;
  amountMinor: bigint;
}

export interface PlannedPosting {
  /** The ledger transaction's kind. */
  kind: 'payment_escrowed' | 'order_completed' | 'refund' | 'checkout_part_escrowed' | 'checkout_refund';
  /** One transaction per business fact: posting the same key again returns the first one. */
  idempotencyKey: string;
  lines: PlannedLine[];
}

/** The split roles with a positive part, each with its part, in SPLIT_ROLES order. */
const partLines = (parts: SplitParts, sign: 1n | -1n): PlannedLine[] =>
  SPLIT_ROLES.filter((role) => parts[role] > 0n).map((role) => ({
    account: role,
    amountMinor: sign * parts[role],
  }));

/** PaymentSucceeded: the channel owes the payment (Dr clearing), escrow holds it for the order (Cr escrow). */
export function paymentEscrowedPosting(orderId: string, paidMinor: bigint): PlannedPosting {
  if (paidMinor <= 0n) throw new Error(`an escrowed payment must be positive, not ${paidMinor}`);
  return {
    kind: 'payment_escrowed',
    idempotencyKey: `order:${orderId}:escrow`,
    lines: [
      { account: 'clearing', amountMinor: paidMinor },
      { account: 'escrow', amountMinor: -paidMinor },
    ],
  };
}

/**
 * Completion: escrow releases what it holds of the order (Dr escrow), each positive part of the
 * split is credited to its account (Cr merchant payable, property share, commission, tax payable).
 * The parts must sum to the release (splitByRule's largest remainder makes them).
 */
export function completionPosting(orderId: string, releaseMinor: bigint, parts: SplitParts): PlannedPosting {
  assertParts(releaseMinor, parts);
  return {
    kind: 'order_completed',
    idempotencyKey: `order:${orderId}:complete`,
    lines: [{ account: 'escrow', amountMinor: releaseMinor }, ...partLines(parts, -1n)],
  };
}

/**
 * A refund's money leaves the books: to the payer's wallet (Cr wallet) or back through the channel
 * (Cr clearing), taken from escrow before completion (Dr escrow) or, after completion, from the
 * split parts the refund takes back (Dr each part: the split return), which must sum to the amount.
 */
export function refundPosting(
  orderId: string,
  refund: {
    refundId: string;
    amountMinor: bigint;
    destination: 'wallet' | 'original';
    /** After completion: the parts of the split the refund takes back; before: undefined. */
    splitReturn: SplitParts | undefined;
  },
): PlannedPosting {
  const amount = refund.amountMinor;
  if (amount <= 0n) throw new Error(`a refund must be positive, not ${amount}`);
  const counter: PlannedLine = {
    account: refund.destination === 'wallet' ? 'wallet' : 'clearing',
    amountMinor: -amount,
  };
  if (refund.splitReturn) assertParts(amount, refund.splitReturn);
  return {
    kind: 'refund',
    idempotencyKey: `order:${orderId}:refund:${refund.refundId}`,
    lines: refund.splitReturn
      ? [counter, ...partLines(refund.splitReturn, 1n)]
      : [counter, { account: 'escrow', amountMinor: amount }],
  };
}

function assertParts(totalMinor: bigint, parts: SplitParts): void {
  const sum = SPLIT_ROLES.reduce((s, role) => s + parts[role], 0n);
  if (sum !== totalMinor || SPLIT_ROLES.some((role) => parts[role] < 0n))
    throw new Error(`split parts ${SPLIT_ROLES.map((r) => parts[r]).join('/')} do not make ${totalMinor}`);
}

/** A checkout's part that is not money: the coupon's discount or the points' value. */
export type CheckoutPartName = 'discount' | 'points';

/**
 * A checkout's coupon discount or points value joins the checkout's order: its own event credited
 * it to the place's merchant payable (as any redemption); this moves it from there into escrow
 * (Dr payable(place) / Cr escrow), once per checkout and part (docs/settlement-checkout.md).
 */
export function partEscrowedPosting(
  checkoutId: string,
  part: CheckoutPartName,
  place: AccountKey,
  amountMinor: bigint,
): PlannedPosting {
  if (amountMinor <= 0n) throw new Error(`a checkout part must be positive, not ${amountMinor}`);
  if (place.kind !== AccountKind.ACCOUNT_KIND_MERCHANT_PAYABLE)
    throw new Error(`a checkout part comes from the place's merchant payable, not kind ${place.kind}`);
  return {
    kind: 'checkout_part_escrowed',
    idempotencyKey: `checkout:${checkoutId}:escrow:${part}`,
    lines: [
      { account: place, amountMinor },
      { account: 'escrow', amountMinor: -amountMinor },
    ],
  };
}

/**
 * A checkout refund's discount and points parts leave the order: from escrow before completion (Dr
 * escrow), after completion from the split parts it takes back (Dr each part; they must sum to the
 * two parts); the discount back to its funder's subsidy (Cr MARKETING_SUBSIDY: the funder's
 * expense shrinks), the points' value to the place's payable the redemption credited (Cr payable),
 * from where points' PointsReturned gives it back to each issuer's liability. The money part is
 * payment's refund (refundPosting). Undefined when both parts are 0.
 */
export function checkoutRefundPosting(
  checkoutId: string,
  r: {
    refundId: string;
    discountMinor: bigint;
    /** The coupon's funder subsidy account (required when discountMinor > 0). */
    funder: AccountKey | undefined;
    pointsValueMinor: bigint;
    /** The payable the points' value came from (required when pointsValueMinor > 0). */
    pointsPlace: AccountKey | undefined;
    splitReturn: SplitParts | undefined;
  },
): PlannedPosting | undefined {
  if (r.discountMinor < 0n || r.pointsValueMinor < 0n)
    throw new Error(`checkout refund parts must not be negative (${r.discountMinor}, ${r.pointsValueMinor})`);
  const total = r.discountMinor + r.pointsValueMinor;
  if (total === 0n) return undefined;
  const credits: PlannedLine[] = [];
  if (r.discountMinor > 0n) {
    if (r.funder?.kind !== AccountKind.ACCOUNT_KIND_MARKETING_SUBSIDY)
      throw new Error('a refunded discount goes back to its funder: a MARKETING_SUBSIDY account');
    credits.push({ account: r.funder, amountMinor: -r.discountMinor });
  }
  if (r.pointsValueMinor > 0n) {
    if (r.pointsPlace?.kind !== AccountKind.ACCOUNT_KIND_MERCHANT_PAYABLE)
      throw new Error("refunded points go back through the place's MERCHANT_PAYABLE");
    credits.push({ account: r.pointsPlace, amountMinor: -r.pointsValueMinor });
  }
  if (r.splitReturn) assertParts(total, r.splitReturn);
  return {
    kind: 'checkout_refund',
    idempotencyKey: `checkout:${checkoutId}:refund:${r.refundId}`,
    lines: r.splitReturn
      ? [...credits, ...partLines(r.splitReturn, 1n)]
      : [...credits, { account: 'escrow', amountMinor: total }],
  };
}
