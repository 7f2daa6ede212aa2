import { join } from 'path';
import { defineService } from '@citybase/platform';
import { PaymentServiceService } from '@citybase/contracts/citybase/payment/v1/payment';
import { paymentConfig } from './config';
import { PaymentModule } from './payment.module';

/** The payment service: what main.ts runs and what the in-process integration tests start. */
export const definition = defineService({
  name: 'payment',
  root: join(__dirname, '..'),
  configSchema: paymentConfig,
  module: PaymentModule,
  grpcServices: { 'citybase.payment.v1.PaymentService': PaymentServiceService },
  // payment consumes settlement's instructions; settlement creates its topic, payment makes sure it exists too
  consumes: ['settlement'],
});
