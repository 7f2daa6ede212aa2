import { Module } from '@nestjs/common';
import { HoldExpiryJob } from './hold-expiry.job';
import { RedemptionEventHandlers } from './redemptions.events';
import { RedemptionsGrpc } from './redemptions.grpc';
import { RedemptionsService } from './redemptions.service';

/**
 * Quotes, checkout reservations, QR tokens and refund rollbacks (docs/marketing.md "Redemptions"):
 * QuoteDiscount, ReserveCoupon, ConfirmCouponReservation, CancelCouponReservation,
 * IssueRedemptionToken, GetTokenKeys, RedeemToken, the hold expiry job and the consumer
 * `marketing.redemptions` of payment's refunds.
 */
@Module({
  controllers: [RedemptionsGrpc],
  providers: [RedemptionsService, HoldExpiryJob, RedemptionEventHandlers],
  exports: [RedemptionsService],
})
export class RedemptionsModule {}
