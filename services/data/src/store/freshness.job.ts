import { Inject, Injectable } from '@nestjs/common';
import { Logger, LOGGER, PeriodicJob, SERVICE_CONFIG } from '@citybase/platform';
import type { DataConfig } from '../config';
import { FreshnessService } from './store.freshness';

/** Refreshes the freshness gauges every DATA_FRESHNESS_INTERVAL_MS. */
@Injectable()
export class FreshnessJob extends PeriodicJob {
  constructor(
    @Inject(LOGGER) logger: Logger,
    @Inject(SERVICE_CONFIG) config: DataConfig,
    private readonly freshness: FreshnessService,
  ) {
    super({
      name: 'data freshness',
      intervalMs: config.DATA_FRESHNESS_INTERVAL_MS,
      logger,
      maxBackoffMs: 60_000,
    });
  }

  async runOnce(): Promise<void> {
    await this.freshness.refresh();
  }
}
