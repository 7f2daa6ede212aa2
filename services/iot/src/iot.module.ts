import { Module } from '@nestjs/common';
import { AccessModule } from './access/access.module';
import { ChargingModule } from './charging/charging.module';
import { CommandsModule } from './commands/commands.module';
import { DevicesModule } from './devices/devices.module';
import { MqttModule } from './mqtt/mqtt.module';
import { ParkingModule } from './parking/parking.module';

/** The iot service's features. Each feature folder adds its gRPC controller and providers here. */
@Module({ imports: [MqttModule, DevicesModule, CommandsModule, AccessModule, ParkingModule, ChargingModule] })
export class IotModule {}
