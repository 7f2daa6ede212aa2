import { Module } from '@nestjs/common';
import { BudgetsModule } from '../budgets/budgets.module';
import { ProgrammesModule } from '../programmes/programmes.module';
import { AccountsGrpc } from './accounts.grpc';
import { AccountsService } from './accounts.service';
import { HoldExpiryJob } from './hold-expiry.job';
import { LotExpiryJob } from './lot-expiry.job';

/**
 * Accounts, lots and reservations (docs/points.md): GetBalance, ListLots, ListHistory, IssuePoints,
 * ReservePoints, ConfirmReservation, CancelReservation, GetReservation, and the hold and lot expiry
 * jobs. Issuance and redemptions are charged to the budgets room's nodes.
 */
@Module({
  imports: [BudgetsModule, ProgrammesModule],
  controllers: [AccountsGrpc],
  providers: [AccountsService, HoldExpiryJob, LotExpiryJob],
  exports: [AccountsService],
})
export class AccountsModule {}
