import { Module } from '@nestjs/common';
import { BudgetsModule } from '../budgets/budgets.module';
import { ProgrammesModule } from '../programmes/programmes.module';
import { AccountsGrpc } from './accounts.grpc';
import { AccountsService } from './accounts.service';
import { ExpiryNoticeJob } from './expiry-notice.job';
import { HoldExpiryJob } from './hold-expiry.job';
import { LotExpiryJob } from './lot-expiry.job';

/**
 * Accounts, lots and reservations (docs/points.md): GetBalance, ListLots, ListHistory, IssuePoints,
 * TransferPoints, ReservePoints, ConfirmReservation, CancelReservation, GetReservation, and the hold
 * and lot expiry and the expiry notice jobs. Issuance and redemptions are charged to the budgets room's nodes.
 */
@Module({
  imports: [BudgetsModule, ProgrammesModule],
  controllers: [AccountsGrpc],
  providers: [AccountsService, HoldExpiryJob, LotExpiryJob, ExpiryNoticeJob],
  exports: [AccountsService],
})
export class AccountsModule {}
