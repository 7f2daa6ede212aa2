import { Module } from '@nestjs/common';
import { BillingModule } from '../billing/billing.module';
import { CommandsModule } from '../commands/commands.module';
import { IngestModule } from '../ingest/ingest.module';
import { ParkingGrpc } from './parking.grpc';
import { ParkingService } from './parking.service';

/** Parking (docs/iot.md "Parking"): ParkingService's RPCs; exits paid through billing, gates opened by commands. */
@Module({
  imports: [CommandsModule, BillingModule, IngestModule],
  controllers: [ParkingGrpc],
  providers: [ParkingService],
})
export class ParkingModule {}
