import { Module } from '@nestjs/common';
import { AccessModule } from './access/access.module';
import { AlarmsModule } from './alarms/alarms.module';
import { ChargingModule } from './charging/charging.module';
import { CommandsModule } from './commands/commands.module';
import { DevicesModule } from './devices/devices.module';
import { HistoryModule } from './history/history.module';
import { IngestModule } from './ingest/ingest.module';
import { MqttModule } from './mqtt/mqtt.module';
import { ParkingModule } from './parking/parking.module';
import { PresenceModule } from './presence/presence.module';

/** The iot service's features. Each feature folder adds its gRPC controller and providers here. */
@Module({
  imports: [
    MqttModule,
    DevicesModule,
    IngestModule,
    HistoryModule,
    PresenceModule,
    AlarmsModule,
    CommandsModule,
    AccessModule,
    ParkingModule,
    ChargingModule,
  ],
})
export class IotModule {}
