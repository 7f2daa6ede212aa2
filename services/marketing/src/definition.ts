import { join } from 'path';
import { defineService } from '@citybase/platform';
import { MarketingServiceService } from '@citybase/contracts/citybase/marketing/v1/marketing';
import { marketingConfig } from './config';
import { MarketingModule } from './marketing.module';

/** The marketing service: what main.ts runs and what the in-process integration tests start. */
export const definition = defineService({
  name: 'marketing',
  root: join(__dirname, '..'),
  configSchema: marketingConfig,
  module: MarketingModule,
  grpcServices: { 'citybase.marketing.v1.MarketingService': MarketingServiceService },
  // group deals consume payment's topic (PaymentSucceeded / Failed / Expired, RefundSucceeded)
  consumes: ['payment'],
});
