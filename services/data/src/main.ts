import './instrumentation';
import { join } from 'path';
import { eventsTopic, platformMigrations, runService } from '@citybase/platform';
import { loadDescriptorSet } from '@citybase/contracts/descriptors';
import { DataServiceService } from '@citybase/contracts/citybase/data/v1/data';
import { dataConfig } from './config';
import { DataModule } from './data.module';

void runService({
  name: 'data',
  configSchema: dataConfig,
  module: DataModule,
  grpcServices: { 'citybase.data.v1.DataService': DataServiceService },
  descriptorSet: loadDescriptorSet(),
  migrations: [platformMigrations, { namespace: 'data', dir: join(__dirname, '..', 'migrations') }],
  topics: [eventsTopic('data')],
});
