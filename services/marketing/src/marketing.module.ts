import { Module } from '@nestjs/common';
import { GroupDealsModule } from './group-deals/group-deals.module';
import { PromotionsModule } from './promotions/promotions.module';

/** The marketing service's features. Each feature folder adds its gRPC controller and providers here. */
@Module({ imports: [PromotionsModule, GroupDealsModule] })
export class MarketingModule {}
