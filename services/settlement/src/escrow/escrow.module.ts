import { Module } from '@nestjs/common';
import { EscrowAccounts } from './escrow.accounts';
import { AutoConfirmJob } from './auto-confirm.job';
import { EscrowEventHandlers } from './escrow.events';
import { EscrowGrpc } from './escrow.grpc';
import { EscrowService } from './escrow.service';
import { EscrowTransitions } from './escrow.transitions';
import { LedgerModule } from '../ledger/ledger.module';
import { SplitRulesModule } from '../split-rules/split-rules.module';
import { TaxRecordsModule } from '../tax-records/tax-records.module';

/**
 * Escrow orders, disputes and refunds (issue 6 items 3-4;
 * docs/settlement-escrow.md): the gRPC methods, the auto-confirm job, and the handlers of
 * payment's events (EscrowEventHandlers, run by the `settlement.escrow` consumer in main.ts).
 */
@Module({
  imports: [LedgerModule, SplitRulesModule, TaxRecordsModule],
  controllers: [EscrowGrpc],
  providers: [EscrowAccounts, EscrowTransitions, EscrowService, EscrowEventHandlers, AutoConfirmJob],
  exports: [EscrowEventHandlers],
})
export class EscrowModule {}
