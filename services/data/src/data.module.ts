import { Module } from '@nestjs/common';
import { AccessLogModule } from './access-log/access-log.module';
import { AnalyticsModule } from './analytics/analytics.module';
import { CatalogModule } from './catalog/catalog.module';
import { DashboardModule } from './dashboard/dashboard.module';
import { FeedsModule } from './feeds/feeds.module';
import { GrantsModule } from './grants/grants.module';
import { StoreModule } from './store/store.module';

/** The data service's features. Each feature folder adds its gRPC controller and providers here. */
@Module({
  imports: [
    StoreModule,
    AnalyticsModule,
    DashboardModule,
    AccessLogModule,
    CatalogModule,
    GrantsModule,
    FeedsModule,
  ],
})
export class DataModule {}
