import { serviceConfigSchema } from '@citybase/platform';
import type { z } from 'zod';

export const identityConfig = serviceConfigSchema({
  grpcPort: 50051,
  httpPort: 8081,
  database: 'citybase_identity',
});
export type IdentityConfig = z.infer<typeof identityConfig>;
