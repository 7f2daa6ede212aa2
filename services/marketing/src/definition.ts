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
  // coupons' tier targeting projects points' TierChanged (consumer marketing.tiers); redemptions
  // roll back on payment's RefundSucceeded (consumer marketing.redemptions); group deals follow
  // their participants' payments (consumer marketing.group-deals)
  consumes: ['points', 'payment'],
});
