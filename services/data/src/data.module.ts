import { Module } from '@nestjs/common';
import { AnalyticsModule } from './analytics/analytics.module';
import { DashboardModule } from './dashboard/dashboard.module';
import { StoreModule } from './store/store.module';

/** The data service's features. Each feature folder adds its gRPC controller and providers here. */
@Module({ imports: [StoreModule, AnalyticsModule, DashboardModule] })
export class DataModule {}
