import { serviceConfigSchema } from '@citybase/platform';
import type { z } from 'zod';

export const dataConfig = serviceConfigSchema({ grpcPort: 50057, httpPort: 8087, database: 'citybase_data' });
export type DataConfig = z.infer<typeof dataConfig>;
