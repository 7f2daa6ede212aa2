import type { Metadata } from '@grpc/grpc-js';
import { Controller } from '@nestjs/common';
import { GrpcMethod } from '@nestjs/microservices';
import { claimsOf } from '@citybase/platform';
import {
  ListEarningRulesRequest,
  ListEarningRulesResponse,
  SetEarningRuleRequest,
  SetEarningRuleResponse,
} from '@citybase/contracts/citybase/points/v1/points';
import { toListEarningRulesQuery, toSetEarningRuleCommand } from './earning.domain';
import { ruleToProto } from './earning.render';
import { EarningService } from './earning.service';

/** Transport adapter of earning rules: proto in (validated), use case, proto out. */
@Controller()
export class EarningGrpc {
  constructor(private readonly earning: EarningService) {}

  @GrpcMethod('PointsService', 'setEarningRule')
  async setEarningRule(req: SetEarningRuleRequest, metadata: Metadata): Promise<SetEarningRuleResponse> {
    const cmd = toSetEarningRuleCommand(req);
    return { rule: ruleToProto(await this.earning.setEarningRule(claimsOf(metadata), cmd)) };
  }

  @GrpcMethod('PointsService', 'listEarningRules')
  async listEarningRules(
    req: ListEarningRulesRequest,
    metadata: Metadata,
  ): Promise<ListEarningRulesResponse> {
    const q = toListEarningRulesQuery(req);
    const { rules, nextPageToken } = await this.earning.listEarningRules(claimsOf(metadata), q);
    return { rules: rules.map(ruleToProto), page: { nextPageToken } };
  }
}
