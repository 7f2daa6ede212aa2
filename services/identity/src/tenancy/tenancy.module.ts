import { Module } from '@nestjs/common';
import { MerchantsService } from './merchants.service';
import { TenancyGrpc } from './tenancy.grpc';
import { TenancyService } from './tenancy.service';

/** Tenancy feature of the identity service: its gRPC controllers and providers. */
@Module({ controllers: [TenancyGrpc], providers: [TenancyService, MerchantsService] })
export class TenancyModule {}
