import { forwardRef, Module } from '@nestjs/common';
import { MerchantsModule } from '../merchants/merchants.module';
import { TenancyModule } from '../tenancy/tenancy.module';
import { PeopleGrpc } from './people.grpc';
import { PeopleService } from './people.service';

/**
 * People feature of the identity service: residents, households, staff and couriers. Checks its
 * writes against the stored tenancy tree through TenancyService and merchants through
 * MerchantsService (which checks its acting staff here: a forward reference both ways); exports PeopleService for the
 * features that act through staff (access).
 */
@Module({
  imports: [TenancyModule, forwardRef(() => MerchantsModule)],
  controllers: [PeopleGrpc],
  providers: [PeopleService],
  exports: [PeopleService],
})
export class PeopleModule {}
