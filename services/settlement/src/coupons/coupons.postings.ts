import { AccountKind } from '@citybase/contracts/citybase/settlement/v1/settlement';
import type { AccountKey } from '../ledger/ledger.service';

/**
 * The ledger postings of coupon redemptions (marketing's CouponRedeemed / CouponReleased), as pure
 * functions (docs/settlement-checkout.md "Coupons"). Amounts are signed minor units, debit
 * positive; every posting sums to zero. The service turns account keys into ids and posts.
 */

/** Operator, project and merchant ids ('' where the level does not apply). */
export interface Owner {
  operatorId: string;
  projectId: string;
  merchantId: string;
}

export interface PlannedPosting {
  kind: 'coupon_redeemed' | 'coupon_rolled_back';
  idempotencyKey: string;
  currency: string;
  operatorId: string;
  projectId: string;
  reference: string;
  lines: { account: AccountKey; amountMinor: bigint }[];
}

/** Who pays a coupon's discount: the platform (all ids empty), an operator, or a merchant. */
export const subsidyOf = (funder: Owner, currency: string): AccountKey => ({
  kind: AccountKind.ACCOUNT_KIND_MARKETING_SUBSIDY,
  currency,
  operatorId: funder.operatorId,
  projectId: funder.projectId,
  merchantId: funder.merchantId,
});

/** Where a coupon was redeemed: the place's merchant is owed the discount it gave. */
export const placePayableOf = (place: Owner, currency: string): AccountKey => ({
  kind: AccountKind.ACCOUNT_KIND_MERCHANT_PAYABLE,
  currency,
  operatorId: place.operatorId,
  projectId: place.projectId,
  merchantId: place.merchantId,
});

/**
 * CouponRedeemed: the funder bears the discount (Dr its MARKETING_SUBSIDY), the place's merchant is
 * owed it (Cr its MERCHANT_PAYABLE), whatever paid the rest. A checkout that names the redemption
 * moves it from that payable into its order. Undefined for a discount of 0.
 */
export function redeemedPosting(r: {
  redemptionId: string;
  funder: Owner;
  place: Owner;
  currency: string;
  discountMinor: bigint;
}): PlannedPosting | undefined {
  if (r.discountMinor < 0n)
    throw new Error(`redemption ${r.redemptionId}: negative discount ${r.discountMinor}`);
  if (r.discountMinor === 0n) return undefined;
  return {
    kind: 'coupon_redeemed',
    idempotencyKey: `coupon:redeemed:${r.redemptionId}`,
    currency: r.currency,
    operatorId: r.place.operatorId,
    projectId: r.place.projectId,
    reference: r.redemptionId,
    lines: [
      { account: subsidyOf(r.funder, r.currency), amountMinor: r.discountMinor },
      { account: placePayableOf(r.place, r.currency), amountMinor: -r.discountMinor },
    ],
  };
}

/**
 * CouponReleased of a confirmed redemption rolled back by a payment's full refund (not a
 * checkout's: a checkout refund gives the discount back with its own parts): the redemption's
 * posting in reverse (Dr the place's payable / Cr the funder's subsidy).
 */
export function rolledBackPosting(r: {
  redemptionId: string;
  funder: Owner;
  place: Owner;
  currency: string;
  discountMinor: bigint;
}): PlannedPosting | undefined {
  const redeemed = redeemedPosting(r);
  if (!redeemed) return undefined;
  return {
    ...redeemed,
    kind: 'coupon_rolled_back',
    idempotencyKey: `coupon:rolled-back:${r.redemptionId}`,
    lines: redeemed.lines.map((l) => ({ account: l.account, amountMinor: -l.amountMinor })),
  };
}
