import { Module } from '@nestjs/common';
import { AlarmsModule } from './alarms/alarms.module';
import { DevicesModule } from './devices/devices.module';
import { HistoryModule } from './history/history.module';
import { IngestModule } from './ingest/ingest.module';
import { MqttModule } from './mqtt/mqtt.module';
import { PresenceModule } from './presence/presence.module';

/** The iot service's features. Each feature folder adds its gRPC controller and providers here. */
@Module({ imports: [MqttModule, DevicesModule, IngestModule, HistoryModule, PresenceModule, AlarmsModule] })
export class IotModule {}
