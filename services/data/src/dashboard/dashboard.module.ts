import { Module } from '@nestjs/common';
import { AnalyticsModule } from '../analytics/analytics.module';
import { DashboardAuth } from './dashboard.auth';
import { DashboardHttp } from './dashboard.http';
import { DashboardHub } from './dashboard.hub';

/** The one-screen dashboard on the HTTP port (docs/data.md "Dashboard"). */
@Module({
  imports: [AnalyticsModule],
  controllers: [DashboardHttp],
  providers: [DashboardAuth, DashboardHub],
})
export class DashboardModule {}
