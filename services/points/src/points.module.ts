import { Module } from '@nestjs/common';
import { AccountsModule } from './accounts/accounts.module';
import { BudgetsModule } from './budgets/budgets.module';
import { EarningModule } from './earning/earning.module';
import { HouseholdsModule } from './households/households.module';
import { ProgrammesModule } from './programmes/programmes.module';

/** The points service's features. Each feature folder adds its gRPC controller and providers here. */
@Module({ imports: [ProgrammesModule, BudgetsModule, AccountsModule, EarningModule, HouseholdsModule] })
export class PointsModule {}
