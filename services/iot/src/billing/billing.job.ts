import { Inject, Injectable } from '@nestjs/common';
import { Logger, LOGGER, PeriodicJob, SERVICE_CONFIG } from '@citybase/platform';
import type { IotConfig } from '../config';
import { BillingService } from './billing.service';

const BATCH = 100;

/** Every IOT_PAYMENT_JOB_INTERVAL_MS: CreatePayment calls not yet answered are made again. */
@Injectable()
export class BillingJob extends PeriodicJob {
  constructor(
    @Inject(LOGGER) logger: Logger,
    @Inject(SERVICE_CONFIG) config: IotConfig,
    private readonly billing: BillingService,
  ) {
    super({
      name: 'iot billing',
      intervalMs: config.IOT_PAYMENT_JOB_INTERVAL_MS,
      logger,
      maxBackoffMs: 60_000,
    });
  }

  async runOnce(): Promise<void> {
    await this.inBatches(async () => (await this.billing.makeDueCalls(BATCH)) === BATCH);
  }
}
