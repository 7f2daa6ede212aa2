import { serviceConfigSchema } from '@citybase/platform';
import type { z } from 'zod';
import { iotOpsSettings } from './ops-config';

export const iotConfig = serviceConfigSchema({
  grpcPort: 50056,
  httpPort: 8086,
  database: 'citybase_iot',
}).extend({
  ...iotOpsSettings,
});
export type IotConfig = z.infer<typeof iotConfig>;
