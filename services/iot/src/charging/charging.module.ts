import { Module } from '@nestjs/common';
import { BillingModule } from '../billing/billing.module';
import { CommandsModule } from '../commands/commands.module';
import { IngestModule } from '../ingest/ingest.module';
import { ChargingGrpc } from './charging.grpc';
import { ChargingService } from './charging.service';

/** EV charging (docs/iot.md "EV charging"): ChargingService's RPCs; one bill per session through billing. */
@Module({
  imports: [CommandsModule, BillingModule, IngestModule],
  controllers: [ChargingGrpc],
  providers: [ChargingService],
})
export class ChargingModule {}
