import { Inject, Injectable } from '@nestjs/common';
import { Logger, LOGGER, PeriodicJob, SERVICE_CONFIG } from '@citybase/platform';
import type { PointsConfig } from '../config';
import { AccountsService } from './accounts.service';

/** Lots noticed per batch (one transaction). */
const BATCH = 500;
/** After a failed pass the next waits longer, doubling up to this (e.g. while the database is down). */
const MAX_BACKOFF_MS = 60_000;

/**
 * Sends PointsExpiring once per lot entering its programme's notice days (`expiry_notice_days`
 * before its expiry, with free units left), every POINTS_EXPIRY_NOTICE_INTERVAL_MS. The lot is
 * marked noticed in the statement that picks it, so two replicas notice it once.
 */
@Injectable()
export class ExpiryNoticeJob extends PeriodicJob {
  constructor(
    @Inject(LOGGER) logger: Logger,
    @Inject(SERVICE_CONFIG) config: PointsConfig,
    private readonly accounts: AccountsService,
  ) {
    super({
      name: 'points expiry notices',
      intervalMs: config.POINTS_EXPIRY_NOTICE_INTERVAL_MS,
      logger,
      maxBackoffMs: MAX_BACKOFF_MS,
    });
  }

  async runOnce(): Promise<void> {
    await this.inBatches(async () => (await this.accounts.noticeExpiringLots(BATCH)) === BATCH);
  }
}
