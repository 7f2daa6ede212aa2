import type { Metadata } from '@grpc/grpc-js';
import { Controller } from '@nestjs/common';
import { GrpcMethod } from '@nestjs/microservices';
import { claimsOf } from '@citybase/platform';
import {
  CreateCampaignRequest,
  CreateCampaignResponse,
  GetCampaignRequest,
  GetCampaignResponse,
  ListCampaignsRequest,
  ListCampaignsResponse,
  UpdateCampaignRequest,
  UpdateCampaignResponse,
} from '@citybase/contracts/citybase/marketing/v1/marketing';
import {
  toCreateCampaignCommand,
  toGetCampaignQuery,
  toListCampaignsQuery,
  toUpdateCampaignCommand,
} from './campaigns.domain';
import { campaignToProto } from './campaigns.render';
import { CampaignsService } from './campaigns.service';

/** Transport adapter of campaigns: proto in (validated), use case, proto out. */
@Controller()
export class CampaignsGrpc {
  constructor(private readonly campaigns: CampaignsService) {}

  @GrpcMethod('MarketingService', 'createCampaign')
  async createCampaign(req: CreateCampaignRequest, metadata: Metadata): Promise<CreateCampaignResponse> {
    const cmd = toCreateCampaignCommand(req);
    return { campaign: campaignToProto(await this.campaigns.createCampaign(claimsOf(metadata), cmd)) };
  }

  @GrpcMethod('MarketingService', 'updateCampaign')
  async updateCampaign(req: UpdateCampaignRequest, metadata: Metadata): Promise<UpdateCampaignResponse> {
    const cmd = toUpdateCampaignCommand(req);
    return { campaign: campaignToProto(await this.campaigns.updateCampaign(claimsOf(metadata), cmd)) };
  }

  @GrpcMethod('MarketingService', 'getCampaign')
  async getCampaign(req: GetCampaignRequest, metadata: Metadata): Promise<GetCampaignResponse> {
    const q = toGetCampaignQuery(req);
    return { campaign: campaignToProto(await this.campaigns.getCampaign(claimsOf(metadata), q)) };
  }

  @GrpcMethod('MarketingService', 'listCampaigns')
  async listCampaigns(req: ListCampaignsRequest, metadata: Metadata): Promise<ListCampaignsResponse> {
    const q = toListCampaignsQuery(req);
    const { items, nextPageToken } = await this.campaigns.listCampaigns(claimsOf(metadata), q);
    return { campaigns: items.map(campaignToProto), page: { nextPageToken } };
  }
}
