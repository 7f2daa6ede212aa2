import { Injectable } from '@nestjs/common';
import { EventConsumer, EventSubscriber, Subscribe } from '@citybase/platform';
import { MarketingEvents } from '@citybase/contracts/events';
import { CouponSubsidies } from './coupons.service';

/**
 * Marketing's coupon redemptions as the ledger records them, each inside the inbox transaction of
 * the consumer `settlement.marketing` (ADR 0004: each applies once per event id).
 */
@EventConsumer('settlement.marketing')
@Injectable()
export class CouponEventHandlers implements EventSubscriber {
  constructor(private readonly subsidies: CouponSubsidies) {}

  subscribe(on: Subscribe): void {
    on(MarketingEvents.CouponRedeemed, (client, event, ctx) =>
      this.subsidies.redeemed(client, event, ctx.envelope.id),
    );
    on(MarketingEvents.CouponReleased, (client, event) => this.subsidies.released(client, event));
  }
}
