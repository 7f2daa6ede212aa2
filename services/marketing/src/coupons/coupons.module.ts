import { Module } from '@nestjs/common';
import { CouponExpiryJob } from './coupon-expiry.job';
import { CouponsGrpc } from './coupons.grpc';
import { CouponsService } from './coupons.service';
import { FlashGate } from './flash-gate';
import { GateReconcileJob } from './gate-reconcile.job';
import { TierEventHandlers } from './tiers.events';

/**
 * Coupons (docs/marketing.md "Coupons"): ClaimCoupon, GetCoupon, ListCoupons, the flash-sale gate
 * (FlashGate), the coupon expiry and gate reconcile jobs, and the consumer `marketing.tiers`.
 */
@Module({
  controllers: [CouponsGrpc],
  providers: [CouponsService, FlashGate, CouponExpiryJob, GateReconcileJob, TierEventHandlers],
  exports: [CouponsService, FlashGate],
})
export class CouponsModule {}
