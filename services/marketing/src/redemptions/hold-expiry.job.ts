import { Inject, Injectable } from '@nestjs/common';
import { Logger, LOGGER, PeriodicJob, SERVICE_CONFIG } from '@citybase/platform';
import type { MarketingConfig } from '../config';
import { RedemptionsService } from './redemptions.service';

/** Redemptions looked at per batch. */
const BATCH = 100;
/** After a failed pass the next waits longer, doubling up to this (e.g. while the database is down). */
const MAX_BACKOFF_MS = 60_000;

/**
 * Expires HELD redemptions past their deadline (checkout holds past their TTL, token holds past
 * exp + offline grace), every MARKETING_HOLD_EXPIRY_INTERVAL_MS: each in its own transaction under
 * its coupon's lock, the coupon AVAILABLE again (EXPIRED past its validity), CouponReleased. Only a
 * HELD redemption is ended, so concurrent passes (or a confirmation racing one) end each once.
 */
@Injectable()
export class HoldExpiryJob extends PeriodicJob {
  constructor(
    @Inject(LOGGER) logger: Logger,
    @Inject(SERVICE_CONFIG) config: MarketingConfig,
    private readonly redemptions: RedemptionsService,
  ) {
    super({
      name: 'marketing hold expiry',
      intervalMs: config.MARKETING_HOLD_EXPIRY_INTERVAL_MS,
      logger,
      maxBackoffMs: MAX_BACKOFF_MS,
    });
  }

  async runOnce(): Promise<void> {
    await this.inBatches(async () => (await this.redemptions.expireDueRedemptions(BATCH)) >= BATCH);
  }
}
