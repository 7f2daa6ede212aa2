import { Injectable } from '@nestjs/common';
import { EventConsumer, EventSubscriber, Subscribe } from '@citybase/platform';
import { PointsEvents } from '@citybase/contracts/events';
import { PointsClearingService } from './points-clearing.service';

/**
 * Points' events as the ledger records them, each inside the inbox transaction of the consumer
 * `settlement.points` (ADR 0004: each applies once per event id; the postings are idempotent by
 * their business keys on top). Events that move no money (reserved, released, transferred, ...)
 * are not subscribed.
 */
@EventConsumer('settlement.points')
@Injectable()
export class PointsClearingEventHandlers implements EventSubscriber {
  constructor(private readonly clearing: PointsClearingService) {}

  subscribe(on: Subscribe): void {
    on(PointsEvents.PointsIssued, (client, event) => this.clearing.issued(client, event));
    on(PointsEvents.PointsEarned, (client, event) => this.clearing.issued(client, event));
    on(PointsEvents.PointsReversed, (client, event, ctx) =>
      this.clearing.reversed(client, event, ctx.envelope.id),
    );
    on(PointsEvents.PointsExpired, (client, event, ctx) =>
      this.clearing.expired(client, event, ctx.envelope.id),
    );
    on(PointsEvents.PointsRedeemed, (client, event, ctx) =>
      this.clearing.redeemed(client, event, ctx.envelope.id),
    );
    on(PointsEvents.PointsReturned, (client, event, ctx) =>
      this.clearing.returned(client, event, ctx.envelope.id),
    );
    on(PointsEvents.ClearingObligationCreated, (client, event, ctx) =>
      this.clearing.obligation(client, event, ctx.envelope.id),
    );
  }
}
