import { Module } from '@nestjs/common';
import { RedemptionsModule } from './redemptions/redemptions.module';

/** The marketing service's features. Each feature folder adds its gRPC controller and providers here. */
@Module({ imports: [RedemptionsModule] })
export class MarketingModule {}
