import { Inject, Injectable } from '@nestjs/common';
import { Logger, LOGGER, PeriodicJob, SERVICE_CONFIG } from '@citybase/platform';
import type { SettlementConfig } from '../config';
import { PointsClearingService } from './points-clearing.service';

/** Obligations settled per cycle transaction. */
const BATCH = 500;
const MAX_BACKOFF_MS = 60_000;

/**
 * The points clearing cycle, every SETTLEMENT_POINTS_CLEARING_INTERVAL_MS: open obligations are
 * netted and settled in batches (PointsClearingService.settleCycle). Replicas skip each other's
 * locked obligations, so each obligation is settled once.
 */
@Injectable()
export class PointsClearingCycleJob extends PeriodicJob {
  constructor(
    @Inject(LOGGER) logger: Logger,
    @Inject(SERVICE_CONFIG) config: SettlementConfig,
    private readonly clearing: PointsClearingService,
  ) {
    super({
      name: 'points clearing cycle',
      intervalMs: config.SETTLEMENT_POINTS_CLEARING_INTERVAL_MS,
      logger,
      maxBackoffMs: MAX_BACKOFF_MS,
    });
  }

  async runOnce(): Promise<void> {
    await this.inBatches(async () => (await this.clearing.settleCycle(BATCH)) >= BATCH);
  }
}
