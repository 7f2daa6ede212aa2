import { Injectable } from '@nestjs/common';
import { EventConsumer, EventSubscriber, Subscribe } from '@citybase/platform';
import { PointsEvents } from '@citybase/contracts/events';
import { CouponsService } from './coupons.service';

/**
 * Points' TierChanged as marketing's projection `holder_tiers` keeps it (tier targeting of
 * claims), inside the inbox transaction of the consumer `marketing.tiers` (once per event id; an
 * event older than the row is ignored).
 */
@EventConsumer('marketing.tiers')
@Injectable()
export class TierEventHandlers implements EventSubscriber {
  constructor(private readonly coupons: CouponsService) {}

  subscribe(on: Subscribe): void {
    on(PointsEvents.TierChanged, (client, event) => this.coupons.applyTierChanged(client, event));
  }
}
