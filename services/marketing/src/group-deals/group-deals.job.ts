import { Inject, Injectable } from '@nestjs/common';
import { Logger, LOGGER, PeriodicJob, SERVICE_CONFIG } from '@citybase/platform';
import type { MarketingConfig } from '../config';
import { GroupDealsService } from './group-deals.service';

const BATCH = 100;
const MAX_BACKOFF_MS = 60_000;

/**
 * Every MARKETING_GROUP_JOB_INTERVAL_MS: held seats whose hold ran out are released, OPEN deals
 * past their deadline end (SUCCEEDED or FAILED, each once under its row lock, also with two
 * replicas), and due calls to payment and settlement are made (refunds, completions, and
 * CreatePayment calls whose answer was lost).
 */
@Injectable()
export class GroupDealsJob extends PeriodicJob {
  constructor(
    @Inject(LOGGER) logger: Logger,
    @Inject(SERVICE_CONFIG) config: MarketingConfig,
    private readonly deals: GroupDealsService,
  ) {
    super({
      name: 'marketing group deals',
      intervalMs: config.MARKETING_GROUP_JOB_INTERVAL_MS,
      logger,
      maxBackoffMs: MAX_BACKOFF_MS,
    });
  }

  async runOnce(): Promise<void> {
    await this.inBatches(async () => (await this.deals.releaseExpiredHolds(BATCH)) === BATCH);
    await this.inBatches(async () => (await this.deals.endOverdueDeals(BATCH)) === BATCH);
    await this.inBatches(async () => (await this.deals.makeDueCalls(BATCH)) === BATCH);
  }
}
