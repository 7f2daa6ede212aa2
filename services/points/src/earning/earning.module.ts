import { Module } from '@nestjs/common';
import { BudgetsModule } from '../budgets/budgets.module';
import { ProgrammesModule } from '../programmes/programmes.module';
import { TiersModule } from '../tiers/tiers.module';
import { EarningEventHandlers } from './earning.events';
import { EarningGrpc } from './earning.grpc';
import { EarningService } from './earning.service';
import { ReleaseJob } from './release.job';

/**
 * Earning (docs/points.md "Earning"): SetEarningRule, ListEarningRules, the consumer
 * `points.earning` of payment's PaymentSucceeded and RefundSucceeded, and the release job. Lots and
 * history entries are written through the accounts room's store; budgets charged through BudgetsService.
 */
@Module({
  imports: [BudgetsModule, ProgrammesModule, TiersModule],
  controllers: [EarningGrpc],
  providers: [EarningService, EarningEventHandlers, ReleaseJob],
})
export class EarningModule {}
