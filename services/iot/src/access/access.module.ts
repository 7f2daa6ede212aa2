import { Module } from '@nestjs/common';
import { CommandsModule } from '../commands/commands.module';
import { AccessProjection } from './access.events';
import { AccessGrpc } from './access.grpc';
import { AccessService } from './access.service';

/**
 * Doors and couriers (docs/iot.md "Doors and couriers"): iot's AccessService RPCs and consumer
 * iot.access (the projection of identity's grants, households, units and couriers).
 */
@Module({
  imports: [CommandsModule],
  controllers: [AccessGrpc],
  providers: [AccessService, AccessProjection],
})
export class AccessModule {}
