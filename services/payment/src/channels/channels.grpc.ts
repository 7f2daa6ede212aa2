import type { Metadata } from '@grpc/grpc-js';
import { Controller } from '@nestjs/common';
import { GrpcMethod } from '@nestjs/microservices';
import { claimsOf } from '@citybase/platform';
import {
  ConfigureProjectChannelRequest,
  ConfigureProjectChannelResponse,
  GetProjectChannelsRequest,
  GetProjectChannelsResponse,
  ListChannelsRequest,
  ListChannelsResponse,
  RegisterChannelRequest,
  RegisterChannelResponse,
  SetChannelStatusRequest,
  SetChannelStatusResponse,
  SetRoutingRulesRequest,
  SetRoutingRulesResponse,
} from '@citybase/contracts/citybase/payment/v1/payment';
import {
  toConfigureProjectChannelCommand,
  toGetProjectChannelsQuery,
  toRegisterChannelCommand,
  toSetChannelStatusCommand,
  toSetRoutingRulesCommand,
} from './channels.domain';
import { ChannelsService } from './channels.service';

/**
 * Transport adapter of the channel RPCs of citybase.payment.v1.PaymentService: proto in, validated
 * command and the caller's verified claims to the use case, proto out. The transport has already
 * checked each RPC's scope; who may act on what is checked by the use cases.
 */
@Controller()
export class ChannelsGrpc {
  constructor(private readonly channels: ChannelsService) {}

  @GrpcMethod('PaymentService', 'registerChannel')
  async registerChannel(req: RegisterChannelRequest, metadata: Metadata): Promise<RegisterChannelResponse> {
    return this.channels.registerChannel(claimsOf(metadata), toRegisterChannelCommand(req));
  }

  @GrpcMethod('PaymentService', 'setChannelStatus')
  async setChannelStatus(
    req: SetChannelStatusRequest,
    metadata: Metadata,
  ): Promise<SetChannelStatusResponse> {
    return this.channels.setChannelStatus(claimsOf(metadata), toSetChannelStatusCommand(req));
  }

  @GrpcMethod('PaymentService', 'listChannels')
  async listChannels(_req: ListChannelsRequest): Promise<ListChannelsResponse> {
    // The catalog is the same for every caller with payment:read (checked by the transport).
    return this.channels.listChannels();
  }

  @GrpcMethod('PaymentService', 'configureProjectChannel')
  async configureProjectChannel(
    req: ConfigureProjectChannelRequest,
    metadata: Metadata,
  ): Promise<ConfigureProjectChannelResponse> {
    return this.channels.configureProjectChannel(claimsOf(metadata), toConfigureProjectChannelCommand(req));
  }

  @GrpcMethod('PaymentService', 'setRoutingRules')
  async setRoutingRules(req: SetRoutingRulesRequest, metadata: Metadata): Promise<SetRoutingRulesResponse> {
    return this.channels.setRoutingRules(claimsOf(metadata), toSetRoutingRulesCommand(req));
  }

  @GrpcMethod('PaymentService', 'getProjectChannels')
  async getProjectChannels(
    req: GetProjectChannelsRequest,
    metadata: Metadata,
  ): Promise<GetProjectChannelsResponse> {
    return this.channels.getProjectChannels(claimsOf(metadata), toGetProjectChannelsQuery(req));
  }
}
