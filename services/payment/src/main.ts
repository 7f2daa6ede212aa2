import './instrumentation';
import { join } from 'path';
import { eventsTopic, platformMigrations, runService } from '@citybase/platform';
import { loadDescriptorSet } from '@citybase/contracts/descriptors';
import { PaymentServiceService } from '@citybase/contracts/citybase/payment/v1/payment';
import { paymentConfig } from './config';
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
});
