import { Module } from '@nestjs/common';
import { AccessGrpc } from './access.grpc';
import { AccessService } from './access.service';

/** Access feature of the identity service: door-access grants. */
@Module({ controllers: [AccessGrpc], providers: [AccessService] })
export class AccessModule {}
