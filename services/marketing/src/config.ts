import { serviceConfigSchema } from '@citybase/platform';
import type { z } from 'zod';

export const marketingConfig = serviceConfigSchema({
  grpcPort: 50055,
  httpPort: 8085,
  database: 'citybase_marketing',
});
export type MarketingConfig = z.infer<typeof marketingConfig>;
