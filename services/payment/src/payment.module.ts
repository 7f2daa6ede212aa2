import { Module } from '@nestjs/common';
import { ChannelsModule } from './channels/channels.module';
import { FundFlowsModule } from './fund-flows/fund-flows.module';
import { InstructionsModule } from './instructions/instructions.module';
import { PaymentsModule } from './payments/payments.module';
import { RefundsModule } from './refunds/refunds.module';
import { CheckoutsModule } from './checkouts/checkouts.module';

/** The payment service's features. Each feature folder is a module with its controllers and providers. */
@Module({
  imports: [
    ChannelsModule,
    PaymentsModule,
    RefundsModule,
    FundFlowsModule,
    InstructionsModule,
    CheckoutsModule,
  ],
})
export class PaymentModule {}
