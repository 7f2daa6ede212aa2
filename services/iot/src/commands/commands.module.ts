import { Module } from '@nestjs/common';
import { CommandsGrpc } from './commands.grpc';
import { CommandsJob } from './commands.job';
import { CommandReports, CommandTransportProvider } from './commands.mqtt';
import { CommandsService } from './commands.service';

/**
 * Device commands (docs/iot.md "Commands"): CommandService's RPCs, the commands job, the device
 * reports' subscription, and CommandsService for the rooms that send commands (doors, parking).
 */
@Module({
  controllers: [CommandsGrpc],
  providers: [CommandsService, CommandsJob, CommandTransportProvider, CommandReports],
  exports: [CommandsService],
})
export class CommandsModule {}
