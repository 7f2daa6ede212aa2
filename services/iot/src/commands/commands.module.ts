import { Module } from '@nestjs/common';
import { CommandsGrpc } from './commands.grpc';
import { CommandsJob } from './commands.job';
import { CommandsService } from './commands.service';

/**
 * Device commands (docs/iot.md "Commands"): CommandService's RPCs, the commands job, the device
 * reports' subscription, and CommandsService for the rooms that send commands (doors, parking).
 */
@Module({
  controllers: [CommandsGrpc],
  // CommandTransport (the broker) is provided by commands.mqtt.ts once the mqtt module is in.
  providers: [CommandsService, CommandsJob],
  exports: [CommandsService],
})
export class CommandsModule {}
