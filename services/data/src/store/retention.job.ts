import { Inject, Injectable } from '@nestjs/common';
import { Logger, LOGGER, PeriodicJob, SERVICE_CONFIG } from '@citybase/platform';
import type { DataConfig } from '../config';
import { RetentionService } from './store.retention';

/** Runs retention every DATA_RETENTION_INTERVAL_MS (RetentionService.run). */
@Injectable()
export class RetentionJob extends PeriodicJob {
  constructor(
    @Inject(LOGGER) logger: Logger,
    @Inject(SERVICE_CONFIG) config: DataConfig,
    private readonly retention: RetentionService,
  ) {
    super({
      name: 'data retention',
      intervalMs: config.DATA_RETENTION_INTERVAL_MS,
      logger,
      maxBackoffMs: 600_000,
    });
  }

  async runOnce(): Promise<void> {
    await this.retention.run();
  }
}
