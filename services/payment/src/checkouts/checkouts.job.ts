import { Inject, Injectable } from '@nestjs/common';
import {
  Logger,
  LOGGER,
  PeriodicJob,
  PG_POOL,
  Pool,
  SERVICE_CONFIG,
  withTransaction,
} from '@citybase/platform';
import type { PaymentConfig } from '../config';
import { CheckoutSaga } from './checkouts.saga';
import { CheckoutRow, claimDueCheckouts, markExpiredDue } from './checkouts.store';

const BATCH = 32;
const PARALLEL = 8;

/**
 * The recovery job, every PAYMENT_CHECKOUT_INTERVAL_MS: sagas whose step is due (a step that got
 * no answer, a driver that died holding it (its lease ran out), a payment's outcome, a cancel)
 * are driven on; unfinished sagas past their expiry are made due (before the payment is open they
 * are released; an open payment is closed at the channel and its outcome decides). Rows are
 * claimed with FOR UPDATE SKIP LOCKED and leased, and every step is a compare-and-set with
 * idempotent calls, so two replicas never drive one saga at once and a race applies once.
 */
@Injectable()
export class CheckoutsJob extends PeriodicJob {
  constructor(
    @Inject(LOGGER) private readonly log: Logger,
    @Inject(SERVICE_CONFIG) private readonly config: PaymentConfig,
    @Inject(PG_POOL) private readonly pool: Pool,
    private readonly saga: CheckoutSaga,
  ) {
    super({ name: 'checkouts', intervalMs: config.PAYMENT_CHECKOUT_INTERVAL_MS, logger: log });
  }

  async runOnce(): Promise<void> {
    await markExpiredDue(this.pool, this.config.PAYMENT_RECONCILE_INTERVAL_MS, 500);
    await this.inBatches(async () => {
      const due = await this.claim(BATCH);
      await this.eachInParallel(due, PARALLEL, (row) => this.driveOne(row));
      return due.length === BATCH;
    });
  }

  /** Claims up to `limit` due sagas (leased): what one pass of one replica drives. */
  claim(limit: number): Promise<CheckoutRow[]> {
    return withTransaction(this.pool, (client) =>
      claimDueCheckouts(client, limit, this.config.PAYMENT_CHECKOUT_LEASE_MS),
    );
  }

  async driveOne(row: CheckoutRow): Promise<void> {
    try {
      await this.saga.driveLeased(row);
    } catch (err) {
      this.log.error({ err, checkout_id: row.checkout_id }, 'checkout saga step failed');
    }
  }
}
