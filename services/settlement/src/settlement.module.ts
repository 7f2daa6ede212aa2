import { Module } from '@nestjs/common';
import { CouponsModule } from './coupons/coupons.module';
import { EscrowModule } from './escrow/escrow.module';
import { LedgerModule } from './ledger/ledger.module';
import { PayoutsModule } from './payouts/payouts.module';
import { PointsClearingModule } from './points-clearing/points-clearing.module';
import { ReconciliationModule } from './reconciliation/reconciliation.module';
import { SplitRulesModule } from './split-rules/split-rules.module';
import { TaxRecordsModule } from './tax-records/tax-records.module';
import { WalletsModule } from './wallets/wallets.module';

/** The settlement service's features. Each feature folder has its own module, imported here. */
@Module({
  imports: [
    LedgerModule,
    SplitRulesModule,
    TaxRecordsModule,
    EscrowModule,
    PayoutsModule,
    WalletsModule,
    ReconciliationModule,
    PointsClearingModule,
    CouponsModule,
  ],
})
export class SettlementModule {}
