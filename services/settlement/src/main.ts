import './instrumentation';
import { join } from 'path';
import { eventsTopic, platformMigrations, runService } from '@citybase/platform';
import { loadDescriptorSet } from '@citybase/contracts/descriptors';
import { SettlementServiceService } from '@citybase/contracts/citybase/settlement/v1/settlement';
import { settlementConfig } from './config';
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
});
