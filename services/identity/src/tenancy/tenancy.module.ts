import { Module } from '@nestjs/common';
import { MerchantsService } from './merchants.service';
import { TenancyGrpc } from './tenancy.grpc';
import { TenancyService } from './tenancy.service';

/** Tenancy feature of the identity service: its gRPC controllers and providers. */
@Module({
  controllers: [TenancyGrpc],
  providers: [TenancyService, MerchantsService],
  // the stored operators, projects, units and merchants other features check their writes against
  exports: [TenancyService],
})
export class TenancyModule {}
