import { Injectable } from '@nestjs/common';
import { EventConsumer, EventSubscriber, Subscribe } from '@citybase/platform';
import { IotEvents } from '@citybase/contracts/events';
import { AlarmsService } from './alarms.service';

/**
 * The alarm signals of citybase.iot.alarms.v1 (written by ingest), each applied once per event id
 * (the id is derived from device and message id: a redelivered message is the same event) in the
 * inbox transaction of the consumer `iot.alarms`.
 */
@EventConsumer('iot.alarms')
@Injectable()
export class AlarmsEventHandlers implements EventSubscriber {
  constructor(private readonly alarms: AlarmsService) {}

  subscribe(on: Subscribe): void {
    on(IotEvents.AlarmSignal, (client, event) => this.alarms.applySignal(client, event));
  }
}
