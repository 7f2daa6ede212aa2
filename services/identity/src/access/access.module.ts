import { Module } from '@nestjs/common';
import { PeopleModule } from '../people/people.module';
import { AccessGrpc } from './access.grpc';
import { AccessService } from './access.service';

/** Access feature of the identity service: door-access grants (issued and revoked by property staff). */
@Module({ imports: [PeopleModule], controllers: [AccessGrpc], providers: [AccessService] })
export class AccessModule {}
