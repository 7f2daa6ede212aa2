import { join } from 'path';
import { defineService } from '@citybase/platform';
import { IotServiceService } from '@citybase/contracts/citybase/iot/v1/iot';
import { IotEvents } from '@citybase/contracts/events';
import { iotConfig } from './config';
import { IotModule } from './iot.module';

/** The iot service: what main.ts runs and what the in-process integration tests start. */
export const definition = defineService({
  name: 'iot',
  root: join(__dirname, '..'),
  configSchema: iotConfig,
  module: IotModule,
  grpcServices: { 'citybase.iot.v1.IotService': IotServiceService },
  // bulk telemetry and the urgent alarms topic (docs/iot.md "Ingest")
  topics: [IotEvents.TelemetryReported.topic, IotEvents.AlarmSignal.topic],
});
