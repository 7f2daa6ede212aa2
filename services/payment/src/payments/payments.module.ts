import { Module } from '@nestjs/common';
import { ChannelsModule } from '../channels/channels.module';
import { RefundsModule } from '../refunds/refunds.module';
import { PaymentsGrpc } from './payments.grpc';
import { ChannelNotificationsHttp } from './payments.http';
import { ChannelNotifications } from './payments.notifications';
import { ChannelPollJob } from './channel-poll.job';
import { PaymentRouting } from './payments.routing';
import { PaymentsService } from './payments.service';
import { PaymentTransitions } from './payments.transitions';

/**
 * Payment intents: CreatePayment, GetPayment, ConfirmPayment over gRPC; the channels'
 * notifications over HTTP; the channel-poll job that resolves unknown outcomes and expiries.
 */
@Module({
  imports: [ChannelsModule, RefundsModule],
  controllers: [PaymentsGrpc, ChannelNotificationsHttp],
  providers: [PaymentsService, PaymentTransitions, PaymentRouting, ChannelNotifications, ChannelPollJob],
  // checkouts open their money part's payment through the same path and follow its outcome
  exports: [PaymentsService, PaymentTransitions, PaymentRouting],
})
export class PaymentsModule {}
