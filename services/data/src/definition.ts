import { join } from 'path';
import { defineService } from '@citybase/platform';
import { AnalyticsServiceService } from '@citybase/contracts/citybase/data/v1/analytics';
import { DataServiceService } from '@citybase/contracts/citybase/data/v1/data';
import { IotEvents } from '@citybase/contracts/events';
import { dataConfig } from './config';
import { DataModule } from './data.module';

/** The data service: what main.ts runs and what the in-process integration tests start. */
export const definition = defineService({
  name: 'data',
  root: join(__dirname, '..'),
  configSchema: dataConfig,
  module: DataModule,
  grpcServices: {
    'citybase.data.v1.DataService': DataServiceService,
    'citybase.data.v1.AnalyticsService': AnalyticsServiceService,
  },
  // the analytical store consumes every business topic; they are created at start-up too
  consumes: ['identity', 'payment', 'settlement', 'points', 'marketing', 'iot'],
  // iot's alarms and its bulk telemetry have topics of their own
  topics: [IotEvents.AlarmRaised.topic, IotEvents.TelemetryReported.topic],
});
