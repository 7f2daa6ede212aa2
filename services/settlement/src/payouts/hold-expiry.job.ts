import { Inject, Injectable } from '@nestjs/common';
import { Logger, LOGGER, SERVICE_CONFIG, PeriodicJob } from '@citybase/platform';
import type { SettlementConfig } from '../config';
import { PayoutsService } from './payouts.service';

/** Holds expired per transaction. */
const BATCH = 100;
/** After a failed pass the next waits longer, doubling up to this (e.g. while the database is down). */
const MAX_BACKOFF_MS = 60_000;

/**
 * Expires ledger holds whose time is up, every SETTLEMENT_HOLD_EXPIRY_INTERVAL_MS: their payouts
 * become EXPIRED with PayoutSettled "expired" (PayoutsService.expireDue). Several replicas may run
 * it at once: rows are locked with FOR UPDATE SKIP LOCKED inside each batch's transaction, so each
 * due hold is expired by one of them, once.
 */
@Injectable()
export class HoldExpiryJob extends PeriodicJob {
  constructor(
    @Inject(LOGGER) logger: Logger,
    @Inject(SERVICE_CONFIG) config: SettlementConfig,
    private readonly payouts: PayoutsService,
  ) {
    super({
      name: 'hold expiry',
      intervalMs: config.SETTLEMENT_HOLD_EXPIRY_INTERVAL_MS,
      logger,
      maxBackoffMs: MAX_BACKOFF_MS,
    });
  }

  /** One pass: expires due holds in batches until there is no full batch left (or the process stops). */
  async runOnce(): Promise<void> {
    await this.inBatches(async () => (await this.payouts.expireDue(BATCH)) >= BATCH);
  }
}
