import { randomUUID } from 'node:crypto';
import { Controller, Inject, Param, Post, Req, Res } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { raw, type Request, type Response } from 'express';
import { Logger, LOGGER } from '@citybase/platform';
import { ChannelNotifications } from './payments.notifications';

/** Mount path of the notification routes, which read their body raw. */
const NOTIFICATIONS_MOUNT = '/channels';
/** Larger notifications are refused (413) before anything is read into memory. */
const MAX_NOTIFICATION_BYTES = '64kb';

/**
 * POST /channels/:channelId/notifications/:paymentId on the HTTP port: where channels post order
 * and refund notifications (notify_url).
 *
 * The signature covers the exact bytes sent, so the body must reach the adapter unparsed. Nest's
 * JSON parser is registered by app.init() (in runService, when the app starts listening) and would
 * consume the stream first. This controller is instantiated before that, when NestFactory.create
 * builds the module graph, so its constructor mounts express.raw() for this path ahead of the JSON
 * parser; the JSON parser then finds the body already read and leaves it alone. (Nest's own
 * `rawBody: true` option would need a change in runService, which serves every service.)
 */
@Controller()
export class ChannelNotificationsHttp {
  constructor(
    adapterHost: HttpAdapterHost,
    private readonly notifications: ChannelNotifications,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {
    adapterHost.httpAdapter.use(
      NOTIFICATIONS_MOUNT,
      raw({ type: () => true, limit: MAX_NOTIFICATION_BYTES }),
    );
  }

  @Post('channels/:channelId/notifications/:paymentId')
  async notify(
    @Param('channelId') channelId: string,
    @Param('paymentId') paymentId: string,
    @Req() req: Request,
    @Res() res: Response,
  ): Promise<void> {
    const rawBody: Buffer = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
    const headers: Record<string, string | undefined> = {};
    for (const [name, value] of Object.entries(req.headers)) {
      headers[name] = Array.isArray(value) ? value.join(', ') : value;
    }
    headers[':path'] = req.originalUrl; // the request target, which the signature covers
    try {
      const answer = await this.notifications.receive({ channelId, paymentId, headers, rawBody });
      res.status(answer.status).json({ code: answer.code });
    } catch (err) {
      // not applied (database unavailable, ...): the channel retries
      const errorId = randomUUID();
      this.logger.error(
        { err, error_id: errorId, payment_id: paymentId, channel: channelId },
        'notification not applied',
      );
      res.status(500).json({ code: 'SYSTEM_ERROR', message: `internal error ${errorId}` });
    }
  }
}
