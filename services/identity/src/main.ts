import './instrumentation';
import { join } from 'path';
import { eventsTopic, platformMigrations, runService } from '@citybase/platform';
import { loadDescriptorSet } from '@citybase/contracts/descriptors';
import { IdentityServiceService } from '@citybase/contracts/citybase/identity/v1/identity';
import { identityConfig } from './config';
import { IdentityModule } from './identity.module';

void runService({
  name: 'identity',
  configSchema: identityConfig,
  module: IdentityModule,
  grpcServices: { 'citybase.identity.v1.IdentityService': IdentityServiceService },
  descriptorSet: loadDescriptorSet(),
  migrations: [platformMigrations, { namespace: 'identity', dir: join(__dirname, '..', 'migrations') }],
  topics: [eventsTopic('identity')],
});
