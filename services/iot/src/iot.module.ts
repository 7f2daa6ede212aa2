import { Module } from '@nestjs/common';
import { DevicesModule } from './devices/devices.module';
import { HistoryModule } from './history/history.module';
import { IngestModule } from './ingest/ingest.module';
import { MqttModule } from './mqtt/mqtt.module';

/** The iot service's features. Each feature folder adds its gRPC controller and providers here. */
@Module({ imports: [MqttModule, DevicesModule, IngestModule, HistoryModule] })
export class IotModule {}
