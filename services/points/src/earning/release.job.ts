import { Inject, Injectable } from '@nestjs/common';
import { Logger, LOGGER, PeriodicJob, SERVICE_CONFIG } from '@citybase/platform';
import type { PointsConfig } from '../config';
import { EarningService } from './earning.service';

/** Due lots looked at per batch. */
const BATCH = 200;
/** After a failed pass the next waits longer, doubling up to this (e.g. while the database is down). */
const MAX_BACKOFF_MS = 60_000;

/**
 * Makes pending lots available once their refund window has passed, every
 * POINTS_RELEASE_INTERVAL_MS: one account per transaction under its lock, a RELEASED entry and
 * PointsReleased per lot. A lot is released once (UPDATE ... WHERE status = PENDING).
 */
@Injectable()
export class ReleaseJob extends PeriodicJob {
  constructor(
    @Inject(LOGGER) logger: Logger,
    @Inject(SERVICE_CONFIG) config: PointsConfig,
    private readonly earning: EarningService,
  ) {
    super({
      name: 'points release',
      intervalMs: config.POINTS_RELEASE_INTERVAL_MS,
      logger,
      maxBackoffMs: MAX_BACKOFF_MS,
    });
  }

  async runOnce(): Promise<void> {
    await this.inBatches(async () => (await this.earning.releaseDueLots(BATCH)) > 0);
  }
}
