import { Inject, Injectable } from '@nestjs/common';
import { Logger, LOGGER, PeriodicJob, SERVICE_CONFIG } from '@citybase/platform';
import type { PointsConfig } from '../config';
import { AccountsService } from './accounts.service';

/** Lots looked at per batch. */
const BATCH = 200;
/** After a failed pass the next waits longer, doubling up to this (e.g. while the database is down). */
const MAX_BACKOFF_MS = 60_000;

/**
 * Expires what is left of lots past their expiry (remaining - held), every
 * POINTS_LOT_EXPIRY_INTERVAL_MS: one account per transaction under its lock, the budgets' expired
 * totals raised, PointsExpired. Held units are left to their reservation: they expire when it ends
 * unconfirmed, or are spent when it is confirmed, never both.
 */
@Injectable()
export class LotExpiryJob extends PeriodicJob {
  constructor(
    @Inject(LOGGER) logger: Logger,
    @Inject(SERVICE_CONFIG) config: PointsConfig,
    private readonly accounts: AccountsService,
  ) {
    super({
      name: 'points lot expiry',
      intervalMs: config.POINTS_LOT_EXPIRY_INTERVAL_MS,
      logger,
      maxBackoffMs: MAX_BACKOFF_MS,
    });
  }

  async runOnce(): Promise<void> {
    await this.inBatches(async () => (await this.accounts.expireDueLots(BATCH)) > 0);
  }
}
