import { Module } from '@nestjs/common';
import { DevicesModule } from './devices/devices.module';
import { MqttModule } from './mqtt/mqtt.module';

/** The iot service's features. Each feature folder adds its gRPC controller and providers here. */
@Module({ imports: [MqttModule, DevicesModule] })
export class IotModule {}
