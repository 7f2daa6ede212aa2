import { Module } from '@nestjs/common';
import { LedgerModule } from '../ledger/ledger.module';
import { SplitRulesModule } from '../split-rules/split-rules.module';
import { TaxRecordsModule } from '../tax-records/tax-records.module';
import { AutoConfirmJob } from './auto-confirm.job';
import { EscrowCheckouts } from './escrow.checkouts';
import { EscrowEventHandlers } from './escrow.events';
import { EscrowGrpc } from './escrow.grpc';
import { EscrowRefunds } from './escrow.refunds';
import { EscrowService } from './escrow.service';
import { EscrowTransitions } from './escrow.transitions';

/**
 * Escrow orders, disputes and refunds (issue 6 items 3-4; docs/settlement-escrow.md): the gRPC
 * methods, the auto-confirm job, and the handlers of payment's events (EscrowEventHandlers, run by
 * the `settlement.escrow` consumer in main.ts). The ledger, split rules and tax records are used
 * through their services.
 */
@Module({
  imports: [LedgerModule, SplitRulesModule, TaxRecordsModule],
  controllers: [EscrowGrpc],
  providers: [
    EscrowTransitions,
    EscrowRefunds,
    EscrowCheckouts,
    EscrowService,
    EscrowEventHandlers,
    AutoConfirmJob,
  ],
  // EscrowCheckouts: coupon and points redemptions (their own rooms' consumers) join checkouts' orders
  exports: [EscrowEventHandlers, EscrowCheckouts],
})
export class EscrowModule {}
