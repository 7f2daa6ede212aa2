import { Module } from '@nestjs/common';
import { BudgetsService } from './budgets.service';

/** Stand-in of the budgets room (branch points-budgets), until it is merged. */
@Module({ providers: [BudgetsService], exports: [BudgetsService] })
export class BudgetsModule {}
