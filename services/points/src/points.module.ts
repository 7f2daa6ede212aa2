import { Module } from '@nestjs/common';
import { ProgrammesModule } from './programmes/programmes.module';
import { BudgetsModule } from './budgets/budgets.module';

/** The points service's features. Each feature folder adds its gRPC controller and providers here. */
@Module({ imports: [ProgrammesModule, BudgetsModule] })
export class PointsModule {}
