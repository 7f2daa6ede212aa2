import { Inject, Injectable } from '@nestjs/common';
import { inDbStage, Logger, LOGGER, PG_POOL, Pool, withTransaction } from '@citybase/platform';
import { ChannelNotification, ChannelSignatureError } from '../channels/channel-adapter';
import { ChannelRouter } from '../channels/channel-router';
import { RefundsService } from '../refunds/refunds.service';
import { findById, recordNotification, recordOrderNotificationAndLock } from './payments.store';
import { PaymentTransitions } from './payments.transitions';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const CHANNEL_ID = /^[a-z0-9-]{1,40}$/;

export interface PostedNotification {
  channelId: string;
  paymentId: string;
  /** The request's headers, plus ':path': the request target it was posted to (signed too). */
  headers: Record<string, string | undefined>;
  /** The body exactly as received: the signature is over these bytes. */
  rawBody: Buffer;
}

/** HTTP status and body answered to the channel. Only 2xx stops the channel's retries. */
export interface NotificationAnswer {
  status: 200 | 400 | 401 | 404;
  code: string;
}

/**
 * Notifications channels post about a payment's order or its refunds. Verified on the raw body with
 * the project's key at that channel; each notification id is applied once (a duplicate is
 * acknowledged and ignored), in the same transaction as its effect, so 200 is only answered once
 * that is committed. Out-of-order news changes nothing (the transitions only move forward).
 */
@Injectable()
export class ChannelNotifications {
  constructor(
    @Inject(PG_POOL) private readonly pool: Pool,
    @Inject(LOGGER) private readonly logger: Logger,
    private readonly router: ChannelRouter,
    private readonly transitions: PaymentTransitions,
    private readonly refunds: RefundsService,
  ) {}

  receive(posted: PostedNotification): Promise<NotificationAnswer> {
    return inDbStage('notification', () => this.apply(posted));
  }

  private async apply(posted: PostedNotification): Promise<NotificationAnswer> {
    const { channelId, paymentId } = posted;
    if (!CHANNEL_ID.test(channelId) || !UUID.test(paymentId)) return { status: 404, code: 'NOT_FOUND' };
    const payment = await findById(this.pool, paymentId);
    if (!payment) return { status: 404, code: 'NOT_FOUND' };
    const routed = await this.router.account(this.pool, { projectId: payment.project_id, channelId });
    if (!routed) return { status: 404, code: 'NOT_FOUND' };

    let notification: ChannelNotification;
    try {
      notification = routed.adapter.verifyNotification(routed.account, posted.headers, posted.rawBody);
    } catch (err) {
      if (err instanceof ChannelSignatureError) {
        this.logger.warn(
          { payment_id: paymentId, channel: channelId, err: err.message },
          'notification refused: signature',
        );
        return { status: 401, code: 'SIGN_ERROR' };
      }
      this.logger.warn(
        { payment_id: paymentId, channel: channelId, err },
        'notification refused: unreadable',
      );
      return { status: 400, code: 'BAD_NOTIFICATION' };
    }
    const about =
      notification.kind === 'order' ? notification.order.paymentId : notification.refund.paymentId;
    if (about !== paymentId) {
      this.logger.warn(
        { payment_id: paymentId, channel: channelId, about },
        'notification refused: about another payment',
      );
      return { status: 400, code: 'WRONG_PAYMENT' };
    }

    const applied = await withTransaction(this.pool, async (client) => {
      if (notification.kind === 'order') {
        // recorded and the payment locked in one round trip
        const { recorded, payment: locked } = await recordOrderNotificationAndLock(client, {
          channelId,
          notificationId: notification.notificationId,
          paymentId,
        });
        if (!recorded) return false;
        await this.transitions.applyChannelOrderIn(client, paymentId, channelId, notification.order, locked);
        return true;
      }
      const recorded = await recordNotification(client, {
        channelId,
        notificationId: notification.notificationId,
        paymentId,
        kind: notification.kind,
      });
      if (!recorded) return false;
      await this.refunds.applyChannelRefundIn(client, notification.refund.refundId, notification.refund);
      return true;
    });
    this.logger.info(
      {
        payment_id: paymentId,
        channel: channelId,
        notification_id: notification.notificationId,
        kind: notification.kind,
        duplicate: !applied,
      },
      'channel notification received',
    );
    return { status: 200, code: 'SUCCESS' };
  }
}
