import { Module } from '@nestjs/common';
import { StoreModule } from '../store/store.module';
import { AnalyticsGrpc } from './analytics.grpc';
import { AnalyticsService } from './analytics.service';

/** AnalyticsService's RPCs: GetDashboard, GetFreshness, ListRollups (docs/data.md "AnalyticsService"). */
@Module({
  imports: [StoreModule],
  controllers: [AnalyticsGrpc],
  providers: [AnalyticsService],
  exports: [AnalyticsService],
})
export class AnalyticsModule {}
