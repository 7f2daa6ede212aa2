import { join } from 'path';
import { defineService } from '@citybase/platform';
import { AccessServiceService } from '@citybase/contracts/citybase/identity/v1/access';
import { ClientServiceService, TokenServiceService } from '@citybase/contracts/citybase/identity/v1/clients';
import { PeopleServiceService } from '@citybase/contracts/citybase/identity/v1/people';
import { TenancyServiceService } from '@citybase/contracts/citybase/identity/v1/tenancy';
import { identityConfig } from './config';
import { IdentityModule } from './identity.module';

/** The identity service: what main.ts runs and what the in-process integration tests start. */
export const definition = defineService({
  name: 'identity',
  root: join(__dirname, '..'),
  configSchema: identityConfig,
  module: IdentityModule,
  grpcServices: {
    'citybase.identity.v1.TenancyService': TenancyServiceService,
    'citybase.identity.v1.PeopleService': PeopleServiceService,
    'citybase.identity.v1.AccessService': AccessServiceService,
    'citybase.identity.v1.ClientService': ClientServiceService,
    'citybase.identity.v1.TokenService': TokenServiceService,
  },
});
