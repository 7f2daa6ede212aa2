import { Module } from '@nestjs/common';
import { CampaignsGrpc } from './campaigns.grpc';
import { CampaignsService } from './campaigns.service';

/**
 * Campaigns (docs/marketing.md "Campaigns"): CreateCampaign, UpdateCampaign, GetCampaign,
 * ListCampaigns. The claim, codes and redemption rooms read and change campaign rows through
 * campaigns.store.ts inside their own transactions.
 */
@Module({ controllers: [CampaignsGrpc], providers: [CampaignsService], exports: [CampaignsService] })
export class CampaignsModule {}
