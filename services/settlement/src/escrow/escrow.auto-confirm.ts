import { Inject, Injectable, OnApplicationBootstrap, OnModuleDestroy } from '@nestjs/common';
import { Counter, Registry } from 'prom-client';
import {
  Logger,
  LOGGER,
  METRICS_REGISTRY,
  PG_POOL,
  Pool,
  SERVICE_CONFIG,
  withTransaction,
  PeriodicTask,
} from '@citybase/platform';
import type { SettlementConfig } from '../config';
import { claimDueOrder, peekDueOrders } from './escrow.store';
import { EscrowTransitions } from './escrow.transitions';

/** Orders looked at per batch, and batches per pass (the rest waits for the next pass). */
const BATCH = 50;
const MAX_BATCHES_PER_PASS = 20;
/** After a failed pass the next waits longer, doubling up to this (e.g. while the database is down). */
const MAX_BACKOFF_MS = 60_000;

/**
 * Completes held orders whose auto-confirm deadline has passed, every
 * SETTLEMENT_AUTO_CONFIRM_INTERVAL_MS. Each order is claimed and completed in one transaction
 * (`FOR UPDATE SKIP LOCKED`), so several replicas can run it at once and an order an RPC is
 * working on is skipped, not waited for. Disputed orders are never picked (status HELD only), nor
 * orders with a refund through the channel in flight (they complete once it is answered).
 */
@Injectable()
export class EscrowAutoConfirm implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly task: PeriodicTask;
  private readonly completed: Counter;

  constructor(
    @Inject(PG_POOL) private readonly pool: Pool,
    @Inject(LOGGER) private readonly logger: Logger,
    @Inject(SERVICE_CONFIG) private readonly config: SettlementConfig,
    @Inject(METRICS_REGISTRY) registry: Registry,
    private readonly transitions: EscrowTransitions,
  ) {
    this.completed = new Counter({
      name: 'settlement_orders_auto_confirmed_total',
      help: 'Escrow orders completed by the auto-confirm deadline',
      registers: [registry],
    });
    this.task = new PeriodicTask({
      name: 'auto-confirm',
      intervalMs: this.config.SETTLEMENT_AUTO_CONFIRM_INTERVAL_MS,
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

  /** One pass: completes due orders until none is left (or the pass's budget is spent). */
  async runOnce(): Promise<void> {
    // orders that failed in this pass are not tried again until the next one
    const failed: string[] = [];
    for (let batch = 0; batch < MAX_BATCHES_PER_PASS && !this.task.stopped; batch++) {
      const due = await peekDueOrders(this.pool, BATCH + failed.length);
      if (due.length === 0) return;
      let done = 0;
      for (let i = 0; i < BATCH && !this.task.stopped; i++) {
        let claimed: string | undefined;
        try {
          const completed = await withTransaction(this.pool, async (client) => {
            const order = await claimDueOrder(client, failed);
            if (!order) return false;
            claimed = order.order_id;
            await this.transitions.complete(client, order, 'auto_confirm');
            return true;
          });
          if (!completed) break;
          done++;
          this.completed.inc();
        } catch (err) {
          if (!claimed) throw err;
          failed.push(claimed);
          this.logger.error({ err, order_id: claimed }, 'auto-confirm of an order failed');
        }
      }
      if (done < BATCH) return;
    }
  }
}
