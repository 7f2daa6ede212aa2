import './instrumentation';
import { join } from 'path';
import { eventsTopic, InboxConsumer, platformMigrations, runService } from '@citybase/platform';
import { loadDescriptorSet } from '@citybase/contracts/descriptors';
import { PaymentEvents } from '@citybase/contracts/events';
import { SettlementServiceService } from '@citybase/contracts/citybase/settlement/v1/settlement';
import { settlementConfig } from './config';
import { EscrowEventHandlers } from './escrow/escrow.events';
import { RecordedPaymentsService } from './recorded-payments/recorded-payments.service';
import { SettlementModule } from './settlement.module';

void runService({
  name: 'settlement',
  configSchema: settlementConfig,
  module: SettlementModule,
  grpcServices: { 'citybase.settlement.v1.SettlementService': SettlementServiceService },
  descriptorSet: loadDescriptorSet(),
  migrations: [platformMigrations, { namespace: 'settlement', dir: join(__dirname, '..', 'migrations') }],
  // settlement consumes payment's topic; payment creates it, settlement makes sure it exists too
  topics: [eventsTopic('settlement'), eventsTopic('payment')],
  consumers: ({ app, config, kafka, pool, logger, registry }) => {
    const recorded = app.get(RecordedPaymentsService);
    const escrow = app.get(EscrowEventHandlers);
    const common = {
      kafka,
      pool,
      logger,
      registry,
      topicPrefix: config.KAFKA_TOPIC_PREFIX,
      sessionTimeoutMs: config.KAFKA_SESSION_TIMEOUT_MS,
    };
    return [
      new InboxConsumer({ name: 'settlement.payments', ...common }).on(
        PaymentEvents.PaymentCreated,
        (client, event, ctx) => recorded.onPaymentCreated(client, event, ctx),
      ),
      // escrow: payments held, refunds and the channel's answers to settlement's instructions
      new InboxConsumer({ name: 'settlement.escrow', ...common })
        .on(PaymentEvents.PaymentSucceeded, (client, event, ctx) =>
          escrow.onPaymentSucceeded(client, event, ctx),
        )
        .on(PaymentEvents.RefundSucceeded, (client, event) => escrow.onRefundSucceeded(client, event))
        .on(PaymentEvents.RefundFailed, (client, event) => escrow.onRefundFailed(client, event))
        .on(PaymentEvents.ChannelSplitSucceeded, (client, event) =>
          escrow.onChannelSplitSucceeded(client, event),
        )
        .on(PaymentEvents.ChannelSplitFailed, (client, event) => escrow.onChannelSplitFailed(client, event))
        .on(PaymentEvents.ChannelSplitReturnSucceeded, (client, event) =>
          escrow.onChannelSplitReturnSucceeded(client, event),
        )
        .on(PaymentEvents.ChannelSplitReturnFailed, (client, event) =>
          escrow.onChannelSplitReturnFailed(client, event),
        ),
    ];
  },
});
