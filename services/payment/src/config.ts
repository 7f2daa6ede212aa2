import { serviceConfigSchema } from '@citybase/platform';
import type { z } from 'zod';

export const paymentConfig = serviceConfigSchema({
  grpcPort: 50052,
  httpPort: 8082,
  database: 'citybase_payment',
});
export type PaymentConfig = z.infer<typeof paymentConfig>;
