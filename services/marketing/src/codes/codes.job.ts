import { Inject, Injectable } from '@nestjs/common';
import { Logger, LOGGER, PeriodicJob, SERVICE_CONFIG } from '@citybase/platform';
import type { MarketingConfig } from '../config';
import { CodesService } from './codes.service';

/** After a failed pass the next waits longer, doubling up to this. */
const MAX_BACKOFF_MS = 60_000;

/**
 * Fills running code batches, every MARKETING_CODES_INTERVAL_MS: chunk after chunk (one
 * transaction each, the batch leased FOR UPDATE SKIP LOCKED) until none is running.
 */
@Injectable()
export class CodesJob extends PeriodicJob {
  constructor(
    @Inject(LOGGER) logger: Logger,
    @Inject(SERVICE_CONFIG) config: MarketingConfig,
    private readonly codes: CodesService,
  ) {
    // 100,000 codes in chunks of 5,000 is 20 chunks: a pass may work off a whole batch
    super({
      name: 'marketing codes',
      intervalMs: config.MARKETING_CODES_INTERVAL_MS,
      logger,
      maxBackoffMs: MAX_BACKOFF_MS,
      maxBatchesPerPass: 1_000,
    });
  }

  async runOnce(): Promise<void> {
    await this.inBatches(() => this.codes.generateChunk());
  }
}
