import './instrumentation';
import { join } from 'path';
import { eventsTopic, platformMigrations, runService } from '@citybase/platform';
import { loadDescriptorSet } from '@citybase/contracts/descriptors';
import { IotServiceService } from '@citybase/contracts/citybase/iot/v1/iot';
import { iotConfig } from './config';
import { IotModule } from './iot.module';

void runService({
  name: 'iot',
  configSchema: iotConfig,
  module: IotModule,
  grpcServices: { 'citybase.iot.v1.IotService': IotServiceService },
  descriptorSet: loadDescriptorSet(),
  migrations: [platformMigrations, { namespace: 'iot', dir: join(__dirname, '..', 'migrations') }],
  topics: [eventsTopic('iot')],
});
