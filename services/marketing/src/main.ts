import './instrumentation';
import { join } from 'path';
import { eventsTopic, platformMigrations, runService } from '@citybase/platform';
import { loadDescriptorSet } from '@citybase/contracts/descriptors';
import { MarketingServiceService } from '@citybase/contracts/citybase/marketing/v1/marketing';
import { marketingConfig } from './config';
import { MarketingModule } from './marketing.module';

void runService({
  name: 'marketing',
  configSchema: marketingConfig,
  module: MarketingModule,
  grpcServices: { 'citybase.marketing.v1.MarketingService': MarketingServiceService },
  descriptorSet: loadDescriptorSet(),
  migrations: [platformMigrations, { namespace: 'marketing', dir: join(__dirname, '..', 'migrations') }],
  topics: [eventsTopic('marketing')],
});
