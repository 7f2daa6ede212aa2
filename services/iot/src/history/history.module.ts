import { Module } from '@nestjs/common';
import { DevicesModule } from '../devices/devices.module';
import { HistoryGrpc } from './history.grpc';
import { HistoryRetentionJob } from './history-retention.job';
import { TelemetryStore } from './telemetry-store';

/** State and history (docs/iot.md "State and history"): the telemetry consumer and retention. */
@Module({
  imports: [DevicesModule],
  controllers: [HistoryGrpc],
  providers: [TelemetryStore, HistoryRetentionJob],
  exports: [HistoryRetentionJob],
})
export class HistoryModule {}
