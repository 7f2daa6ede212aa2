import { Module } from '@nestjs/common';
import { AccessModule } from './access/access.module';
import { ClientsModule } from './clients/clients.module';
import { MerchantsModule } from './merchants/merchants.module';
import { PeopleModule } from './people/people.module';
import { IdentitySharedModule } from './shared/shared.module';
import { TenancyModule } from './tenancy/tenancy.module';

/** The identity service's features. Each feature folder adds its gRPC controller and providers here. */
@Module({
  imports: [IdentitySharedModule, TenancyModule, MerchantsModule, PeopleModule, AccessModule, ClientsModule],
})
export class IdentityModule {}
