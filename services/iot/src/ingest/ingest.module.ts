import { Module } from '@nestjs/common';
import { DeviceDirectory } from '../devices/device-directory';
import { IngestService } from './ingest.service';

/** Ingest (docs/iot.md "Ingest"): broker > Kafka, PUBACK after Kafka. */
@Module({ providers: [DeviceDirectory, IngestService], exports: [IngestService, DeviceDirectory] })
export class IngestModule {}
