import './instrumentation';
import { join } from 'path';
import { eventsTopic, platformMigrations, runService } from '@citybase/platform';
import { loadDescriptorSet } from '@citybase/contracts/descriptors';
import { AccessServiceService } from '@citybase/contracts/citybase/identity/v1/access';
import { ClientServiceService, TokenServiceService } from '@citybase/contracts/citybase/identity/v1/clients';
import { PeopleServiceService } from '@citybase/contracts/citybase/identity/v1/people';
import { TenancyServiceService } from '@citybase/contracts/citybase/identity/v1/tenancy';
import { identityConfig } from './config';
import { IdentityModule } from './identity.module';

void runService({
  name: 'identity',
  configSchema: identityConfig,
  module: IdentityModule,
  grpcServices: {
    'citybase.identity.v1.TenancyService': TenancyServiceService,
    'citybase.identity.v1.PeopleService': PeopleServiceService,
    'citybase.identity.v1.AccessService': AccessServiceService,
    'citybase.identity.v1.ClientService': ClientServiceService,
    'citybase.identity.v1.TokenService': TokenServiceService,
  },
  descriptorSet: loadDescriptorSet(),
  migrations: [platformMigrations, { namespace: 'identity', dir: join(__dirname, '..', 'migrations') }],
  topics: [eventsTopic('identity')],
});
