import { serviceConfigSchema } from '@citybase/platform';
import { z } from 'zod';

export const marketingConfig = serviceConfigSchema({
  grpcPort: 50055,
  httpPort: 8085,
  database: 'citybase_marketing',
}).extend({
  // ---- redemptions (src/redemptions, docs/marketing.md "Redemptions") ----
  /** Lifetime of a coupon reservation whose request asks for 0 seconds, 1-3600. */
  MARKETING_RESERVATION_TTL_SECONDS: z.coerce.number().int().min(1).max(3600).default(600),
  /** How long after a QR token's expiry an offline scan may still be submitted (and the hold lasts). */
  MARKETING_OFFLINE_GRACE_SECONDS: z.coerce.number().int().min(0).max(86_400).default(1800),
  /** How often the hold expiry job ends held redemptions past their deadline. */
  MARKETING_HOLD_EXPIRY_INTERVAL_MS: z.coerce.number().int().min(50).max(600_000).default(5_000),
});
export type MarketingConfig = z.infer<typeof marketingConfig>;
