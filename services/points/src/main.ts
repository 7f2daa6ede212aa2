import './instrumentation';
import { join } from 'path';
import { eventsTopic, platformMigrations, runService } from '@citybase/platform';
import { loadDescriptorSet } from '@citybase/contracts/descriptors';
import { PointsServiceService } from '@citybase/contracts/citybase/points/v1/points';
import { pointsConfig } from './config';
import { PointsModule } from './points.module';

void runService({
  name: 'points',
  configSchema: pointsConfig,
  module: PointsModule,
  grpcServices: { 'citybase.points.v1.PointsService': PointsServiceService },
  descriptorSet: loadDescriptorSet(),
  migrations: [platformMigrations, { namespace: 'points', dir: join(__dirname, '..', 'migrations') }],
  topics: [eventsTopic('points')],
});
