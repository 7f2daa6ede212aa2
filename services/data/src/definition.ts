import { join } from 'path';
import { defineService } from '@citybase/platform';
import { DataServiceService } from '@citybase/contracts/citybase/data/v1/data';
import { dataConfig } from './config';
import { DataModule } from './data.module';

/** The data service: what main.ts runs and what the in-process integration tests start. */
export const definition = defineService({
  name: 'data',
  root: join(__dirname, '..'),
  configSchema: dataConfig,
  module: DataModule,
  grpcServices: { 'citybase.data.v1.DataService': DataServiceService },
});
