import { Module } from '@nestjs/common';
import { BudgetsModule } from '../budgets/budgets.module';
import { ProgrammesModule } from '../programmes/programmes.module';
import { AccountsGrpc } from './accounts.grpc';
import { AccountsService } from './accounts.service';
import { CheckoutRefundHandlers } from './checkout-refunds.events';
import { ExpiryNoticeJob } from './expiry-notice.job';
import { HoldExpiryJob } from './hold-expiry.job';
import { LotExpiryJob } from './lot-expiry.job';

/**
 * Accounts, lots and reservations (docs/points.md): GetBalance, ListLots, ListHistory, IssuePoints,
 * TransferPoints, ReservePoints, ConfirmReservation, CancelReservation, GetReservation, the hold
 * and lot expiry and the expiry notice jobs, and the returns of checkout refunds (consumer
 * `points.checkouts`). Issuance and redemptions are charged to the budgets room's nodes.
 */
@Module({
  imports: [BudgetsModule, ProgrammesModule],
  controllers: [AccountsGrpc],
  providers: [AccountsService, CheckoutRefundHandlers, HoldExpiryJob, LotExpiryJob, ExpiryNoticeJob],
  exports: [AccountsService],
})
export class AccountsModule {}
