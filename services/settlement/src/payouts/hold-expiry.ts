import { Inject, Injectable, OnApplicationBootstrap, OnModuleDestroy } from '@nestjs/common';
import { Logger, LOGGER, SERVICE_CONFIG, PeriodicTask } from '@citybase/platform';
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
  private readonly task: PeriodicTask;

  constructor(
    @Inject(LOGGER) private readonly logger: Logger,
    @Inject(SERVICE_CONFIG) private readonly config: SettlementConfig,
    private readonly payouts: PayoutsService,
  ) {
    this.task = new PeriodicTask({
      name: 'hold expiry',
      intervalMs: this.config.SETTLEMENT_HOLD_EXPIRY_INTERVAL_MS,
      logger: this.logger,
      run: () => this.runOnce(),
      maxBackoffMs: MAX_BACKOFF_MS,
    });
  }

  onApplicationBootstrap(): void {
    this.task.start();
  }

  /** Stops scheduling and waits for the pass under way (before the pool is closed). */
  async onModuleDestroy(): Promise<void> {
    await this.task.stop();
  }

  /** One pass: expires due holds in batches until there is no full batch left (or the process stops). */
  async runOnce(): Promise<void> {
    for (let batch = 0; batch < MAX_BATCHES_PER_PASS && !this.task.stopped; batch++) {
      if ((await this.payouts.expireDue(BATCH)) < BATCH) return;
    }
  }
}
