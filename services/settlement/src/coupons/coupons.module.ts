import { Module } from '@nestjs/common';
import { EscrowModule } from '../escrow/escrow.module';
import { LedgerModule } from '../ledger/ledger.module';
import { CouponEventHandlers } from './coupons.events';
import { CouponSubsidies } from './coupons.service';

/**
 * Coupon discounts against their funders' subsidy (issue 14; docs/settlement-checkout.md): the
 * handlers of marketing's CouponRedeemed / CouponReleased (consumer `settlement.marketing`); a
 * checkout's coupon joins its escrow order through EscrowCheckouts.
 */
@Module({
  imports: [LedgerModule, EscrowModule],
  providers: [CouponSubsidies, CouponEventHandlers],
})
export class CouponsModule {}
