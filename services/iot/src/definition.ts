import { join } from 'path';
import { defineService } from '@citybase/platform';
import { AccessServiceService } from '@citybase/contracts/citybase/iot/v1/access';
import { ChargingServiceService } from '@citybase/contracts/citybase/iot/v1/charging';
import { CommandServiceService } from '@citybase/contracts/citybase/iot/v1/commands';
import { IotServiceService } from '@citybase/contracts/citybase/iot/v1/iot';
import { ParkingServiceService } from '@citybase/contracts/citybase/iot/v1/parking';
import { IotEvents } from '@citybase/contracts/events';
import { iotConfig } from './config';
import { IotModule } from './iot.module';

/** The iot service: what main.ts runs and what the in-process integration tests start. */
export const definition = defineService({
  name: 'iot',
  root: join(__dirname, '..'),
  configSchema: iotConfig,
  module: IotModule,
  grpcServices: {
    'citybase.iot.v1.IotService': IotServiceService,
    'citybase.iot.v1.CommandService': CommandServiceService,
    'citybase.iot.v1.AccessService': AccessServiceService,
    'citybase.iot.v1.ParkingService': ParkingServiceService,
    'citybase.iot.v1.ChargingService': ChargingServiceService,
  },
  // parking exits and charging sessions follow their payments (consumer iot.billing); doors follow
  // identity's grants, households, units and couriers (consumer iot.access)
  consumes: ['payment', 'identity'],
  // bulk telemetry and the urgent alarms topic (docs/iot.md "Ingest")
  topics: [IotEvents.TelemetryReported.topic, IotEvents.AlarmSignal.topic],
});
