import { Inject, Injectable } from '@nestjs/common';
import { Logger, LOGGER, PeriodicJob, SERVICE_CONFIG } from '@citybase/platform';
import type { DataConfig } from '../config';
import { RollupStore } from './store.rollups';

/** Folds pending rollup contributions every DATA_FOLD_INTERVAL_MS (RollupStore.fold), backlog in batches. */
@Injectable()
export class FoldJob extends PeriodicJob {
  constructor(
    @Inject(LOGGER) logger: Logger,
    @Inject(SERVICE_CONFIG) config: DataConfig,
    private readonly rollups: RollupStore,
  ) {
    super({
      name: 'data rollup fold',
      intervalMs: config.DATA_FOLD_INTERVAL_MS,
      logger,
      maxBackoffMs: 10_000,
    });
  }

  async runOnce(): Promise<void> {
    await this.inBatches(async () => (await this.rollups.fold(20_000)).contributions >= 20_000);
  }
}
