import { Module } from '@nestjs/common';
import { PromotionsModule } from './promotions/promotions.module';

/** The marketing service's features. Each feature folder adds its gRPC controller and providers here. */
@Module({ imports: [PromotionsModule] })
export class MarketingModule {}
