import { Module } from '@nestjs/common';
import { BudgetsModule } from './budgets/budgets.module';

/** The points service's features. Each feature folder adds its gRPC controller and providers here. */
@Module({ imports: [BudgetsModule] })
export class PointsModule {}
