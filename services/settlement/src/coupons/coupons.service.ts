import { Inject, Injectable } from '@nestjs/common';
import { Logger, LOGGER, PoolClient } from '@citybase/platform';
import type { TenancyRef } from '@citybase/contracts/citybase/common/v1/common';
import type { CouponRedeemed, CouponReleased } from '@citybase/contracts/citybase/marketing/v1/events';
import { RedemptionStatus } from '@citybase/contracts/citybase/marketing/v1/marketing';
import { EscrowCheckouts } from '../escrow/escrow.checkouts';
import { LedgerService } from '../ledger/ledger.service';
import { Owner, PlannedPosting, redeemedPosting, rolledBackPosting } from './coupons.postings';

const ownerOf = (t: TenancyRef | undefined): Owner => ({
  operatorId: t?.operatorId ?? '',
  projectId: t?.projectId ?? '',
  merchantId: t?.merchantId ?? '',
});

/**
 * Coupon discounts in the ledger (docs/settlement-checkout.md "Coupons"): marketing's events applied
 * inside the inbox transaction of `settlement.marketing` (each once per event id; the postings are
 * idempotent by redemption on top). Every confirmed redemption, checkout or counter sale, posts its
 * discount against the funder's subsidy; a checkout that names it takes it into its order.
 */
@Injectable()
export class CouponSubsidies {
  constructor(
    @Inject(LOGGER) private readonly logger: Logger,
    private readonly ledger: LedgerService,
    private readonly checkouts: EscrowCheckouts,
  ) {}

  async redeemed(client: PoolClient, e: CouponRedeemed, eventId: string): Promise<void> {
    const r = e.redemption;
    const discount = r?.discount;
    if (!r?.redemptionId || !discount?.currency || !r.redeemedAt?.operatorId)
      throw new Error(
        `CouponRedeemed ${r?.redemptionId ?? '?'}: redemption with its discount and redeemed_at is required`,
      );
    const place = ownerOf(r.redeemedAt);
    const funder = ownerOf(e.funder);
    const txId = await this.post(
      client,
      redeemedPosting({
        redemptionId: r.redemptionId,
        funder,
        place,
        currency: discount.currency,
        discountMinor: discount.amountMinor,
      }),
    );
    await this.checkouts.partRedeemed(client, {
      source: 'coupon',
      sourceId: r.redemptionId,
      eventId,
      reference: r.reference,
      place,
      funder,
      currency: discount.currency,
      amountMinor: discount.amountMinor,
      txId,
    });
  }

  /**
   * CouponReleased: a held reservation that ended posted nothing; a confirmed redemption rolled back
   * by a payment's full refund takes its discount back from the place to the funder. A rollback by a
   * checkout's refund posts nothing here: that refund's parts gave the discount back (and a
   * redemption a checkout's order took is only ever given back that way).
   */
  async released(client: PoolClient, e: CouponReleased): Promise<void> {
    const r = e.redemption;
    if (r?.status !== RedemptionStatus.REDEMPTION_STATUS_ROLLED_BACK || e.byCheckoutRefund) return;
    const part = await this.checkouts.part(client, 'coupon', r.redemptionId);
    if (part?.checkout_id) {
      this.logger.warn(
        { redemption_id: r.redemptionId, checkout_id: part.checkout_id },
        "a checkout's coupon rolled back by a payment refund: its discount goes back with the checkout's refund only",
      );
      return;
    }
    const discount = r.discount;
    if (!discount?.currency) throw new Error(`CouponReleased ${r.redemptionId}: discount is required`);
    const txId = await this.post(
      client,
      rolledBackPosting({
        redemptionId: r.redemptionId,
        funder: ownerOf(e.funder),
        place: ownerOf(r.redeemedAt),
        currency: discount.currency,
        discountMinor: discount.amountMinor,
      }),
    );
    if (txId && part) await this.checkouts.partRolledBack(client, 'coupon', r.redemptionId, txId);
  }

  private async post(client: PoolClient, planned: PlannedPosting | undefined): Promise<string | undefined> {
    if (!planned) return undefined;
    const lines = [];
    for (const l of planned.lines)
      lines.push({ accountId: await this.ledger.accountId(client, l.account), amountMinor: l.amountMinor });
    const tx = await this.ledger.post(client, {
      kind: planned.kind,
      idempotencyKey: planned.idempotencyKey,
      currency: planned.currency,
      operatorId: planned.operatorId,
      projectId: planned.projectId,
      reference: planned.reference,
      lines,
    });
    return tx.txId;
  }
}
