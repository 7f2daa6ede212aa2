import { Inject, Injectable, OnApplicationBootstrap, OnModuleDestroy } from '@nestjs/common';
import { Logger, LOGGER, SERVICE_CONFIG } from '@citybase/platform';
import type { SettlementConfig } from '../config';
import { PayoutsService } from './payouts.service';

/** Holds expired per transaction, and batches per pass (the rest waits for the next pass). */
const BATCH = 100;
const MAX_BATCHES_PER_PASS = 20;
/** After a failed pass the next waits longer, doubling up to this (e.g. while the database is down). */
const MAX_BACKOFF_MS = 60_000;

/**
 * Expires ledger holds whose time is up, every SETTLEMENT_HOLD_EXPIRY_INTERVAL_MS: their payouts
 * become EXPIRED with PayoutSettled "expired" (PayoutsService.expireDue). Several replicas may run
 * it at once: rows are locked with FOR UPDATE SKIP LOCKED inside each batch's transaction, so each
 * due hold is expired by one of them, once.
 */
@Injectable()
export class HoldExpiry implements OnApplicationBootstrap, OnModuleDestroy {
  private timer: NodeJS.Timeout | undefined;
  private pass: Promise<void> | undefined;
  private stopped = false;
  private failures = 0;

  constructor(
    @Inject(LOGGER) private readonly logger: Logger,
    @Inject(SERVICE_CONFIG) private readonly config: SettlementConfig,
    private readonly payouts: PayoutsService,
  ) {}

  onApplicationBootstrap(): void {
    this.schedule();
  }

  /** Stops scheduling and waits for the pass under way (before the pool is closed). */
  async onModuleDestroy(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.pass;
  }

  private schedule(): void {
    if (this.stopped) return;
    const interval = this.config.SETTLEMENT_HOLD_EXPIRY_INTERVAL_MS;
    const delay = this.failures === 0 ? interval : Math.min(interval * 2 ** this.failures, MAX_BACKOFF_MS);
    this.timer = setTimeout(() => {
      this.pass = this.runOnce()
        .then(() => {
          this.failures = 0;
        })
        .catch((err: unknown) => {
          this.failures = Math.min(this.failures + 1, 16);
          this.logger.error({ err }, 'hold expiry pass failed');
        })
        .finally(() => {
          this.pass = undefined;
          this.schedule();
        });
    }, delay);
  }

  /** One pass: expires due holds in batches until there is no full batch left (or the process stops). */
  async runOnce(): Promise<void> {
    for (let batch = 0; batch < MAX_BATCHES_PER_PASS && !this.stopped; batch++) {
      if ((await this.payouts.expireDue(BATCH)) < BATCH) return;
    }
  }
}
