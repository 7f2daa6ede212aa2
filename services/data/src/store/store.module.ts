import { Module } from '@nestjs/common';
import { FoldJob } from './fold.job';
import { FreshnessJob } from './freshness.job';
import { RetentionJob } from './retention.job';
import {
  IdentityIngest,
  IotIngest,
  MarketingIngest,
  PaymentIngest,
  PointsIngest,
  SettlementIngest,
  TelemetryIngest,
} from './store.events';
import { FreshnessService } from './store.freshness';
import { IngestService } from './store.ingest';
import { Partitions } from './store.partitions';
import { RetentionService } from './store.retention';
import { RollupStore } from './store.rollups';

/**
 * The analytical store (docs/data.md "Analytical store"): one ingest consumer per source topic,
 * the fold, retention and freshness jobs.
 */
@Module({
  providers: [
    Partitions,
    IngestService,
    RollupStore,
    RetentionService,
    FreshnessService,
    IdentityIngest,
    PaymentIngest,
    SettlementIngest,
    PointsIngest,
    MarketingIngest,
    IotIngest,
    TelemetryIngest,
    FoldJob,
    RetentionJob,
    FreshnessJob,
  ],
  exports: [RollupStore, RetentionService, FreshnessService],
})
export class StoreModule {}
