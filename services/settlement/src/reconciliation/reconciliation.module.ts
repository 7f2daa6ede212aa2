import { Module } from '@nestjs/common';
import { LedgerModule } from '../ledger/ledger.module';
import { ReconciliationGrpc } from './reconciliation.grpc';
import { ReconciliationService } from './reconciliation.service';

/**
 * Reconciliation of the channels' daily statements with the ledger (issue 6 item 6;
 * docs/settlement-payouts.md): ImportChannelStatement, GetReconciliationReport.
 */
@Module({
  imports: [LedgerModule],
  controllers: [ReconciliationGrpc],
  providers: [ReconciliationService],
})
export class ReconciliationModule {}
