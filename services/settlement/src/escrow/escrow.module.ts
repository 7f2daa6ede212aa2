import { Module } from '@nestjs/common';
import { EscrowAccounts } from './escrow.accounts';
import { AutoConfirmJob } from './auto-confirm.job';
import { EscrowEventHandlers } from './escrow.events';
import { EscrowGrpc } from './escrow.grpc';
import { EscrowService } from './escrow.service';
import { EscrowTransitions } from './escrow.transitions';
import { SplitRulesService } from './split-rules.service';
import { TaxRecordsService } from './tax-records.service';

/**
 * Escrow orders, split rules, disputes, refunds and tax records (issue 6 items 2-4 and 7;
 * docs/settlement-escrow.md): the gRPC methods, the auto-confirm job, and the handlers of
 * payment's events (EscrowEventHandlers, run by the `settlement.escrow` consumer in main.ts).
 */
@Module({
  controllers: [EscrowGrpc],
  providers: [
    EscrowAccounts,
    EscrowTransitions,
    EscrowService,
    EscrowEventHandlers,
    AutoConfirmJob,
    SplitRulesService,
    TaxRecordsService,
  ],
  exports: [EscrowEventHandlers],
})
export class EscrowModule {}
