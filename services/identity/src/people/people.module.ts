import { Module } from '@nestjs/common';
import { TenancyModule } from '../tenancy/tenancy.module';
import { PeopleGrpc } from './people.grpc';
import { PeopleService } from './people.service';

/**
 * People feature of the identity service: residents, households, staff and couriers. Checks its
 * writes against the stored tenancy tree through TenancyService; exports PeopleService for the
 * features that act through staff (access).
 */
@Module({
  imports: [TenancyModule],
  controllers: [PeopleGrpc],
  providers: [PeopleService],
  exports: [PeopleService],
})
export class PeopleModule {}
