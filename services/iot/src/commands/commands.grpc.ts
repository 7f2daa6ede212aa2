import type { Metadata } from '@grpc/grpc-js';
import { Controller } from '@nestjs/common';
import { GrpcMethod } from '@nestjs/microservices';
import { claimsOf } from '@citybase/platform';
import type {
  CancelCommandRequest,
  CancelCommandResponse,
  GetCommandRequest,
  GetCommandResponse,
  ListCommandsRequest,
  ListCommandsResponse,
  SendCommandRequest,
  SendCommandResponse,
} from '@citybase/contracts/citybase/iot/v1/commands';
import { toCancelCommand, toCommandQuery, toListCommands, toSendCommand } from './commands.domain';
import { commandToProto } from './commands.render';
import { CommandsService } from './commands.service';

/** Transport adapter of CommandService: proto in (validated), use case, proto out. */
@Controller()
export class CommandsGrpc {
  constructor(private readonly commands: CommandsService) {}

  @GrpcMethod('CommandService', 'sendCommand')
  async sendCommand(req: SendCommandRequest, metadata: Metadata): Promise<SendCommandResponse> {
    const cmd = toSendCommand(req);
    return { command: commandToProto(await this.commands.sendCommand(claimsOf(metadata), cmd)) };
  }

  @GrpcMethod('CommandService', 'getCommand')
  async getCommand(req: GetCommandRequest, metadata: Metadata): Promise<GetCommandResponse> {
    const q = toCommandQuery(req);
    return { command: commandToProto(await this.commands.getCommand(claimsOf(metadata), q)) };
  }

  @GrpcMethod('CommandService', 'listCommands')
  async listCommands(req: ListCommandsRequest, metadata: Metadata): Promise<ListCommandsResponse> {
    const q = toListCommands(req);
    const { items, nextPageToken } = await this.commands.listCommands(claimsOf(metadata), q);
    return { commands: items.map(commandToProto), page: { nextPageToken } };
  }

  @GrpcMethod('CommandService', 'cancelCommand')
  async cancelCommand(req: CancelCommandRequest, metadata: Metadata): Promise<CancelCommandResponse> {
    const cmd = toCancelCommand(req);
    return { command: commandToProto(await this.commands.cancelCommand(claimsOf(metadata), cmd)) };
  }
}
