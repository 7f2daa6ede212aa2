import { Module } from '@nestjs/common';
import { ChannelsModule } from '../channels/channels.module';
import { RefundsGrpc } from './refunds.grpc';
import { RefundsService } from './refunds.service';

/**
 * Refunds of succeeded payments (RefundPayment, GetRefund). RefundsService is exported for the
 * channel notifications and the channel-poll job of payments, which bring refund outcomes too.
 */
@Module({
  imports: [ChannelsModule],
  controllers: [RefundsGrpc],
  providers: [RefundsService],
  exports: [RefundsService],
})
export class RefundsModule {}
