import { Module } from '@nestjs/common';
import { TenancyGrpc } from './tenancy.grpc';
import { TenancyService } from './tenancy.service';

/** Tenancy feature of the identity service: its gRPC controllers and providers. */
@Module({
  controllers: [TenancyGrpc],
  providers: [TenancyService],
  // the stored operators, projects, buildings and units other features check their writes against
  exports: [TenancyService],
})
export class TenancyModule {}
