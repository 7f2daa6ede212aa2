import { Module } from '@nestjs/common';
import { CampaignsModule } from './campaigns/campaigns.module';
import { CodesModule } from './codes/codes.module';
import { CouponsModule } from './coupons/coupons.module';
import { GroupDealsModule } from './group-deals/group-deals.module';
import { PromotionsModule } from './promotions/promotions.module';
import { RedemptionsModule } from './redemptions/redemptions.module';

/** The marketing service's features. Each feature folder adds its gRPC controller and providers here. */
@Module({
  imports: [
    CampaignsModule,
    CodesModule,
    CouponsModule,
    RedemptionsModule,
    PromotionsModule,
    GroupDealsModule,
  ],
})
export class MarketingModule {}
