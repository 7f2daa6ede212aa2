import { join } from 'path';
import { defineService } from '@citybase/platform';
import { PointsServiceService } from '@citybase/contracts/citybase/points/v1/points';
import { pointsConfig } from './config';
import { PointsModule } from './points.module';

/** The points service: what main.ts runs and what the in-process integration tests start. */
export const definition = defineService({
  name: 'points',
  root: join(__dirname, '..'),
  configSchema: pointsConfig,
  module: PointsModule,
  grpcServices: { 'citybase.points.v1.PointsService': PointsServiceService },
  // earning consumes payment's topic (PaymentSucceeded, RefundSucceeded); it is created at start-up too
  consumes: ['payment'],
});
