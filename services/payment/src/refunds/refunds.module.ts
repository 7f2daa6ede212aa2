import { forwardRef, Module } from '@nestjs/common';
import { ChannelsModule } from '../channels/channels.module';
import { InstructionsModule } from '../instructions/instructions.module';
import { RefundsGrpc } from './refunds.grpc';
import { RefundsService } from './refunds.service';

/**
 * Refunds of succeeded payments (RefundPayment, GetRefund). RefundsService is exported for the
 * channel notifications and the channel-poll job of payments, which bring refund outcomes too, and
 * for the refund instructions of settlement (instructions), which it makes final through
 * InstructionsService.
 */
@Module({
  imports: [ChannelsModule, forwardRef(() => InstructionsModule)],
  controllers: [RefundsGrpc],
  providers: [RefundsService],
  exports: [RefundsService],
})
export class RefundsModule {}
