import { Module } from '@nestjs/common';
import { PeopleGrpc } from './people.grpc';
import { PeopleService } from './people.service';

/** People feature of the identity service: residents, households, staff and couriers. */
@Module({ controllers: [PeopleGrpc], providers: [PeopleService] })
export class PeopleModule {}
