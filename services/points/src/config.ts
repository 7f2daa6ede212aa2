import { serviceConfigSchema } from '@citybase/platform';
import type { z } from 'zod';

export const pointsConfig = serviceConfigSchema({
  grpcPort: 50054,
  httpPort: 8084,
  database: 'citybase_points',
});
export type PointsConfig = z.infer<typeof pointsConfig>;
