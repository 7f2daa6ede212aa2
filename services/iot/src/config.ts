import { serviceConfigSchema } from '@citybase/platform';
import type { z } from 'zod';

export const iotConfig = serviceConfigSchema({ grpcPort: 50056, httpPort: 8086, database: 'citybase_iot' });
export type IotConfig = z.infer<typeof iotConfig>;
