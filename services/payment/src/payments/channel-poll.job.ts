import { Inject, Injectable } from '@nestjs/common';
import {
  Logger,
  LOGGER,
  PG_POOL,
  Pool,
  SERVICE_CONFIG,
  withTransaction,
  PeriodicJob,
} from '@citybase/platform';
import { PaymentStatus } from '@citybase/contracts/citybase/payment/v1/payment';
import { ChannelRejectedError, ChannelUnavailableError } from '../channels/channel-adapter';
import { ChannelRouter } from '../channels/channel-router';
import type { PaymentConfig } from '../config';
import { RefundsService } from '../refunds/refunds.service';
import { isNoSuchOrder, PaymentRouting } from './payments.routing';
import {
  channelOrders,
  claimDuePayments,
  claimStrayChannelOrders,
  PaymentRow,
  releaseReconcileLease,
  setChannelOrderState,
  StrayChannelOrder,
} from './payments.store';
import { PaymentTransitions } from './payments.transitions';

/** Rows claimed per batch, and how many of them are worked on at once. */
const BATCH = 32;
const PARALLEL = 8;

/**
 * Resolves what the channels did not tell us, every PAYMENT_RECONCILE_INTERVAL_MS:
 * - open payments whose check is due: unknown or processing ones are queried at their channel,
 *   created ones whose routing died are routed again;
 * - intents past expires_at: the order is closed at the channel first; only a CLOSED answer makes
 *   the payment expired (a SUCCESS answer means it was paid);
 * - orders possibly opened at channels routing fell back from: closed, so they cannot be paid too;
 * - processing refunds: queried (or started again if the channel never got them).
 * Several processes may run it at once: rows are claimed with FOR UPDATE SKIP LOCKED and leased,
 * and every outcome goes through the compare-and-set transitions, so a race applies it once.
 */
@Injectable()
export class ChannelPollJob extends PeriodicJob {
  constructor(
    @Inject(PG_POOL) private readonly pool: Pool,
    @Inject(LOGGER) private readonly logger: Logger,
    @Inject(SERVICE_CONFIG) private readonly config: PaymentConfig,
    private readonly router: ChannelRouter,
    private readonly routing: PaymentRouting,
    private readonly transitions: PaymentTransitions,
    private readonly refunds: RefundsService,
  ) {
    super({
      name: 'channel poll',
      intervalMs: config.PAYMENT_RECONCILE_INTERVAL_MS,
      logger,
    });
  }

  /** How long claimed rows stay leased: enough for the channel calls of one batch. */
  private get leaseMs(): number {
    return Math.ceil(BATCH / PARALLEL) * 3 * this.config.PAYMENT_CHANNEL_TIMEOUT_MS + 5_000;
  }

  /** One pass: claims due work in batches until there is no full batch left (or the process stops). */
  async runOnce(): Promise<void> {
    await this.inBatches(async () => {
      const payments = await withTransaction(this.pool, (client) =>
        claimDuePayments(client, BATCH, this.leaseMs, this.config.PAYMENT_RECONCILE_INTERVAL_MS),
      );
      await this.eachInParallel(payments, PARALLEL, (p) => this.reconcilePayment(p));
      const strays = await withTransaction(this.pool, (client) =>
        claimStrayChannelOrders(client, BATCH, 2 * this.config.PAYMENT_CHANNEL_TIMEOUT_MS + 1_000),
      );
      await this.eachInParallel(strays, PARALLEL, (o) => this.closeStray(o));
      const refunds = await this.refunds.reconcileDue({
        limit: BATCH,
        leaseMs: this.leaseMs,
        stopped: () => this.stopped,
      });
      return payments.length >= BATCH || strays.length >= BATCH || refunds >= BATCH;
    });
  }

  private async reconcilePayment(p: PaymentRow): Promise<void> {
    try {
      if (p.expires_at.getTime() <= Date.now()) await this.expire(p);
      else if (p.status === PaymentStatus.PAYMENT_STATUS_CREATED) await this.routing.route(p.payment_id);
      else await this.query(p);
    } catch (err) {
      this.logger.error({ err, payment_id: p.payment_id }, 'payment reconciliation failed');
    } finally {
      await releaseReconcileLease(this.pool, p.payment_id).catch(() => undefined);
    }
  }

  /** Processing or unknown: what does the channel say? */
  private async query(p: PaymentRow): Promise<void> {
    if (p.channel === '') {
      await this.routing.route(p.payment_id);
      return;
    }
    const routed = await this.router.account(this.pool, { projectId: p.project_id, channelId: p.channel });
    if (!routed) {
      this.logger.error(
        { payment_id: p.payment_id, channel: p.channel },
        'no account at the payment channel',
      );
      return;
    }
    try {
      const order = await routed.adapter.queryOrder(routed.account, p.payment_id);
      await this.transitions.applyChannelOrder(p.payment_id, p.channel, order);
    } catch (err) {
      if (isNoSuchOrder(err) && p.pay_url === '') {
        // opening the order never reached the channel: open it now
        await this.routing.route(p.payment_id);
        return;
      }
      if (!(err instanceof ChannelUnavailableError) && !(err instanceof ChannelRejectedError)) throw err;
      this.logger.debug({ payment_id: p.payment_id, err: err.message }, 'payment query got no answer');
    }
  }

  /**
   * Past its expiry: close the order at the payment's channel and wherever one may have been opened.
   * A channel answering SUCCESS means it was paid (succeeded, not expired). Expired only once every
   * order is definitely closed (or never existed).
   */
  private async expire(p: PaymentRow): Promise<void> {
    const orders = await channelOrders(this.pool, p.payment_id);
    const targets = new Set([
      p.channel,
      ...orders.filter((o) => o.state === 'pending' || o.state === 'open').map((o) => o.channel_id),
    ]);
    targets.delete('');
    let allClosed = true;
    for (const channelId of targets) {
      const outcome = await this.close(p, channelId);
      if (outcome === 'paid') return;
      if (outcome === 'uncertain') allClosed = false;
    }
    if (allClosed) await this.transitions.expireUnrouted(p.payment_id);
  }

  private async closeStray(o: StrayChannelOrder): Promise<void> {
    try {
      await this.close({ payment_id: o.payment_id, project_id: o.project_id }, o.channel_id);
    } catch (err) {
      this.logger.error(
        { err, payment_id: o.payment_id, channel: o.channel_id },
        'closing a stray order failed',
      );
    }
  }

  /** Closes the payment's order at one channel and applies the answer. */
  private async close(
    p: Pick<PaymentRow, 'payment_id' | 'project_id'>,
    channelId: string,
  ): Promise<'paid' | 'closed' | 'uncertain'> {
    const routed = await this.router.account(this.pool, { projectId: p.project_id, channelId });
    if (!routed) {
      this.logger.error(
        { payment_id: p.payment_id, channel: channelId },
        'no account at the channel to close the order',
      );
      await setChannelOrderState(this.pool, p.payment_id, channelId, 'closed', 'no channel account');
      return 'closed';
    }
    try {
      const order = await routed.adapter.closeOrder(routed.account, p.payment_id);
      await this.transitions.applyChannelOrder(p.payment_id, channelId, order);
      if (order.status === 'SUCCESS') return 'paid';
      return order.status === 'NOTPAY' ? 'uncertain' : 'closed';
    } catch (err) {
      if (isNoSuchOrder(err)) {
        await setChannelOrderState(this.pool, p.payment_id, channelId, 'closed', 'no order');
        return 'closed';
      }
      if (!(err instanceof ChannelUnavailableError) && !(err instanceof ChannelRejectedError)) throw err;
      this.logger.warn(
        { payment_id: p.payment_id, channel: channelId, err: err.message },
        'closing the order got no answer',
      );
      return 'uncertain';
    }
  }
}
