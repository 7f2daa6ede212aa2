import { Module } from '@nestjs/common';
import { PeopleModule } from '../people/people.module';
import { TenancyModule } from '../tenancy/tenancy.module';
import { AccessGrpc } from './access.grpc';
import { AccessService } from './access.service';

/**
 * Access feature of the identity service: door-access grants (issued and revoked by property staff).
 * Reads residents and households through PeopleService, buildings and units through TenancyService.
 */
@Module({ imports: [PeopleModule, TenancyModule], controllers: [AccessGrpc], providers: [AccessService] })
export class AccessModule {}
