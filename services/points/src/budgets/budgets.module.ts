import { Module } from '@nestjs/common';
import { BudgetsGrpc } from './budgets.grpc';
import { BudgetsService } from './budgets.service';

/**
 * Budgets (docs/points.md "Budgets"): SetBudget, GetBudget, ListBudgets. BudgetsService is
 * exported: issuance charges budgets through it (charge, uncharge, redeemed, expired) inside its
 * own transaction.
 */
@Module({ controllers: [BudgetsGrpc], providers: [BudgetsService], exports: [BudgetsService] })
export class BudgetsModule {}
