import { serviceConfigSchema } from '@citybase/platform';
import type { z } from 'zod';

export const settlementConfig = serviceConfigSchema({
  grpcPort: 50053,
  httpPort: 8083,
  database: 'citybase_settlement',
});
export type SettlementConfig = z.infer<typeof settlementConfig>;
