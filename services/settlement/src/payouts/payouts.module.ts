import { Module } from '@nestjs/common';
import { LedgerModule } from '../ledger/ledger.module';
import { HoldExpiryJob } from './hold-expiry.job';
import { PayoutsGrpc } from './payouts.grpc';
import { PayoutsService } from './payouts.service';

/**
 * Payout cycles, the bank's answers and hold expiry (issue 6 item 5; docs/settlement-payouts.md):
 * RunPayoutCycle, ConfirmPayout, ListPayouts, and the job that expires holds nobody confirmed in
 * time. PayoutsService is exported: wallets open their withdrawals through it.
 */
@Module({
  imports: [LedgerModule],
  controllers: [PayoutsGrpc],
  providers: [PayoutsService, HoldExpiryJob],
  exports: [PayoutsService],
})
export class PayoutsModule {}
