import { Inject, Injectable } from '@nestjs/common';
import { Counter, Registry } from 'prom-client';
import {
  Logger,
  LOGGER,
  METRICS_REGISTRY,
  PG_POOL,
  Pool,
  SERVICE_CONFIG,
  withTransaction,
  PeriodicJob,
} from '@citybase/platform';
import type { SettlementConfig } from '../config';
import { claimDueOrder, peekDueOrders } from './escrow.store';
import { EscrowTransitions } from './escrow.transitions';

/** Orders looked at per batch. */
const BATCH = 50;
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
export class AutoConfirmJob extends PeriodicJob {
  private readonly completed: Counter;

  constructor(
    @Inject(PG_POOL) private readonly pool: Pool,
    @Inject(LOGGER) private readonly logger: Logger,
    @Inject(SERVICE_CONFIG) config: SettlementConfig,
    @Inject(METRICS_REGISTRY) registry: Registry,
    private readonly transitions: EscrowTransitions,
  ) {
    super({
      name: 'auto-confirm',
      intervalMs: config.SETTLEMENT_AUTO_CONFIRM_INTERVAL_MS,
      logger,
      maxBackoffMs: MAX_BACKOFF_MS,
    });
    this.completed = new Counter({
      name: 'settlement_orders_auto_confirmed_total',
      help: 'Escrow orders completed by the auto-confirm deadline',
      registers: [registry],
    });
  }

  /** One pass: completes due orders until none is left (or the pass's budget is spent). */
  async runOnce(): Promise<void> {
    // orders that failed in this pass are not tried again until the next one
    const failed: string[] = [];
    await this.inBatches(async () => {
      const due = await peekDueOrders(this.pool, BATCH + failed.length);
      if (due.length === 0) return false;
      let done = 0;
      for (let i = 0; i < BATCH && !this.stopped; i++) {
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
      return done >= BATCH;
    });
  }
}
