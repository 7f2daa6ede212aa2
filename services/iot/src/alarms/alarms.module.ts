import { Module } from '@nestjs/common';
import { IngestModule } from '../ingest/ingest.module';
import { AlarmsEventHandlers } from './alarms.events';
import { AlarmsGrpc } from './alarms.grpc';
import { AlarmsService } from './alarms.service';

/** Alarms (docs/iot.md "Alarms"). */
@Module({
  imports: [IngestModule],
  controllers: [AlarmsGrpc],
  providers: [AlarmsService, AlarmsEventHandlers],
})
export class AlarmsModule {}
