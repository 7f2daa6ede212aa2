import './instrumentation';
import { join } from 'path';
import { eventsTopic, InboxConsumer, platformMigrations, runService } from '@citybase/platform';
import { loadDescriptorSet } from '@citybase/contracts/descriptors';
import { SettlementEvents } from '@citybase/contracts/events';
import { PaymentServiceService } from '@citybase/contracts/citybase/payment/v1/payment';
import { paymentConfig } from './config';
import { ChannelInstructions } from './instructions/instructions.service';
import { PaymentModule } from './payment.module';

void runService({
  name: 'payment',
  configSchema: paymentConfig,
  module: PaymentModule,
  grpcServices: { 'citybase.payment.v1.PaymentService': PaymentServiceService },
  descriptorSet: loadDescriptorSet(),
  migrations: [platformMigrations, { namespace: 'payment', dir: join(__dirname, '..', 'migrations') }],
  // payment consumes settlement's instructions; settlement creates its topic, payment makes sure it exists too
  topics: [eventsTopic('payment'), eventsTopic('settlement')],
  consumers: ({ app, config, kafka, pool, logger, registry }) => {
    const instructions = app.get(ChannelInstructions);
    return [
      new InboxConsumer({
        name: 'payment.settlement-instructions',
        kafka,
        pool,
        logger,
        registry,
        topicPrefix: config.KAFKA_TOPIC_PREFIX,
        sessionTimeoutMs: config.KAFKA_SESSION_TIMEOUT_MS,
      })
        .on(SettlementEvents.ChannelSplitRequested, (client, event, ctx) =>
          instructions.onSplitRequested(client, event, ctx),
        )
        .on(SettlementEvents.ChannelSplitReturnRequested, (client, event, ctx) =>
          instructions.onSplitReturnRequested(client, event, ctx),
        )
        .on(SettlementEvents.ChannelRefundRequested, (client, event, ctx) =>
          instructions.onRefundRequested(client, event, ctx),
        ),
    ];
  },
});
