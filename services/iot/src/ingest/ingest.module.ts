import { Module } from '@nestjs/common';
import { DeviceDirectory } from '../devices/device-directory';
import { DeviceEventRoutes } from './device-events';
import { IngestService } from './ingest.service';

/** Ingest (docs/iot.md "Ingest"): broker > Kafka, PUBACK after Kafka. */
@Module({
  providers: [DeviceDirectory, DeviceEventRoutes, IngestService],
  exports: [IngestService, DeviceDirectory, DeviceEventRoutes],
})
export class IngestModule {}
