import { forwardRef, Module } from '@nestjs/common';
import { PeopleModule } from '../people/people.module';
import { TenancyModule } from '../tenancy/tenancy.module';
import { MerchantsGrpc } from './merchants.grpc';
import { MerchantsService } from './merchants.service';

/**
 * Merchants feature of the identity service: the merchant RPCs of TenancyService. Checks its writes
 * against the tenancy tree (TenancyService) and the acting staff (PeopleService); exports
 * MerchantsService for people (a merchant's staff), hence the forward reference between the two.
 */
@Module({
  imports: [TenancyModule, forwardRef(() => PeopleModule)],
  controllers: [MerchantsGrpc],
  providers: [MerchantsService],
  exports: [MerchantsService],
})
export class MerchantsModule {}
