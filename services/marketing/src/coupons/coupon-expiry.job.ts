import { Inject, Injectable } from '@nestjs/common';
import { Logger, LOGGER, PeriodicJob, SERVICE_CONFIG } from '@citybase/platform';
import type { MarketingConfig } from '../config';
import { CouponsService } from './coupons.service';

/** Coupons expired per transaction. */
const BATCH = 500;
const MAX_BACKOFF_MS = 60_000;

/**
 * Expires AVAILABLE coupons past their validity, every MARKETING_COUPON_EXPIRY_INTERVAL_MS:
 * EXPIRED, the campaign's claimed_value -= max_value, CouponExpired (CouponsService.expireDueCoupons).
 */
@Injectable()
export class CouponExpiryJob extends PeriodicJob {
  constructor(
    @Inject(LOGGER) logger: Logger,
    @Inject(SERVICE_CONFIG) config: MarketingConfig,
    private readonly coupons: CouponsService,
  ) {
    super({
      name: 'marketing coupon expiry',
      intervalMs: config.MARKETING_COUPON_EXPIRY_INTERVAL_MS,
      logger,
      maxBackoffMs: MAX_BACKOFF_MS,
    });
  }

  async runOnce(): Promise<void> {
    await this.inBatches(async () => (await this.coupons.expireDueCoupons(BATCH)) >= BATCH);
  }
}
