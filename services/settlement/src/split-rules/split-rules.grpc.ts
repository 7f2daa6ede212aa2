import type { Metadata } from '@grpc/grpc-js';
import { Controller } from '@nestjs/common';
import { GrpcMethod } from '@nestjs/microservices';
import { claimsOf } from '@citybase/platform';
import {
  ListSplitRulesRequest,
  ListSplitRulesResponse,
  SetSplitRuleRequest,
  SetSplitRuleResponse,
} from '@citybase/contracts/citybase/settlement/v1/settlement';
import { toListSplitRulesQuery, toSetSplitRuleCommand } from './split-rules.domain';
import { ruleToProto } from './split-rules.render';
import { SplitRulesService } from './split-rules.service';

/** Transport adapter of split rules: proto in (validated), use case, proto out. */
@Controller()
export class SplitRulesGrpc {
  constructor(private readonly rules: SplitRulesService) {}

  @GrpcMethod('SettlementService', 'setSplitRule')
  async setSplitRule(req: SetSplitRuleRequest, metadata: Metadata): Promise<SetSplitRuleResponse> {
    const cmd = toSetSplitRuleCommand(req);
    return { rule: ruleToProto(await this.rules.setRule(claimsOf(metadata), cmd)) };
  }

  @GrpcMethod('SettlementService', 'listSplitRules')
  async listSplitRules(req: ListSplitRulesRequest, metadata: Metadata): Promise<ListSplitRulesResponse> {
    const q = toListSplitRulesQuery(req);
    return { rules: (await this.rules.listRules(claimsOf(metadata), q)).map(ruleToProto) };
  }
}
