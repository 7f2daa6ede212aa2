import type { Metadata } from '@grpc/grpc-js';
import { Controller } from '@nestjs/common';
import { GrpcMethod } from '@nestjs/microservices';
import { claimsOf } from '@citybase/platform';
import {
  CreateGroupDealRequest,
  CreateGroupDealResponse,
  GetGroupDealRequest,
  GetGroupDealResponse,
  JoinGroupDealRequest,
  JoinGroupDealResponse,
} from '@citybase/contracts/citybase/marketing/v1/marketing';
import { toCreateGroupDealCommand, toGetGroupDealQuery, toJoinGroupDealCommand } from './group-deals.domain';
import { dealToProto, participantToProto } from './group-deals.render';
import { GroupDealsService } from './group-deals.service';

/** Transport adapter of group buying: proto in (validated), use case, proto out. */
@Controller()
export class GroupDealsGrpc {
  constructor(private readonly deals: GroupDealsService) {}

  @GrpcMethod('MarketingService', 'createGroupDeal')
  async createGroupDeal(req: CreateGroupDealRequest, metadata: Metadata): Promise<CreateGroupDealResponse> {
    const cmd = toCreateGroupDealCommand(req, new Date());
    return { deal: dealToProto(await this.deals.createGroupDeal(claimsOf(metadata), cmd)) };
  }

  @GrpcMethod('MarketingService', 'joinGroupDeal')
  async joinGroupDeal(req: JoinGroupDealRequest, metadata: Metadata): Promise<JoinGroupDealResponse> {
    const cmd = toJoinGroupDealCommand(req);
    const { deal, participant } = await this.deals.joinGroupDeal(claimsOf(metadata), cmd);
    return { deal: dealToProto(deal), participant: participantToProto(participant) };
  }

  @GrpcMethod('MarketingService', 'getGroupDeal')
  async getGroupDeal(req: GetGroupDealRequest, metadata: Metadata): Promise<GetGroupDealResponse> {
    const q = toGetGroupDealQuery(req);
    const { deal, participants } = await this.deals.getGroupDeal(claimsOf(metadata), q);
    return { deal: dealToProto(deal), participants: participants.map(participantToProto) };
  }
}
