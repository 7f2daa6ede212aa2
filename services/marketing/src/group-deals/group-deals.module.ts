import { Module } from '@nestjs/common';
import { GroupDealsEventHandlers } from './group-deals.events';
import { GroupDealsGrpc } from './group-deals.grpc';
import { GroupDealsJob } from './group-deals.job';
import { DealPorts } from './group-deals.ports';
import { GroupDealsService } from './group-deals.service';

/**
 * Group buying (docs/marketing.md "Group buying"): CreateGroupDeal, JoinGroupDeal, GetGroupDeal,
 * the consumer `marketing.group-deals` of payment's events, the deals job, and the outbound
 * clients of payment and settlement (DealPorts).
 */
@Module({
  controllers: [GroupDealsGrpc],
  providers: [GroupDealsService, GroupDealsEventHandlers, GroupDealsJob, DealPorts],
})
export class GroupDealsModule {}
