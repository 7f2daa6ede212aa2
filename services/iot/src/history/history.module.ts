import { Module } from '@nestjs/common';
import { HistoryRetentionJob } from './history-retention.job';
import { TelemetryStore } from './telemetry-store';

/** State and history (docs/iot.md "State and history"): the telemetry consumer and retention. */
@Module({ providers: [TelemetryStore, HistoryRetentionJob], exports: [HistoryRetentionJob] })
export class HistoryModule {}
