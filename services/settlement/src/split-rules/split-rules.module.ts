import { Module } from '@nestjs/common';
import { SplitRulesGrpc } from './split-rules.grpc';
import { SplitRulesService } from './split-rules.service';

/**
 * Split rules per project and merchant category (issue 6 item 2; docs/settlement-escrow.md):
 * SetSplitRule, ListSplitRules. SplitRulesService is exported: escrow asks it for the terms an
 * order is split by.
 */
@Module({ controllers: [SplitRulesGrpc], providers: [SplitRulesService], exports: [SplitRulesService] })
export class SplitRulesModule {}
