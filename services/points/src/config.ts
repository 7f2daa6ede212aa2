import { serviceConfigSchema } from '@citybase/platform';
import { z } from 'zod';

export const pointsConfig = serviceConfigSchema({
  grpcPort: 50054,
  httpPort: 8084,
  database: 'citybase_points',
}).extend({
  // ---- accounts (src/accounts, docs/points.md) ----
  /** Lifetime of a reservation whose request asks for 0 seconds, 1-3600. */
  POINTS_RESERVATION_TTL_SECONDS: z.coerce.number().int().min(1).max(3600).default(600),
  /** How often the hold expiry job ends held reservations past their deadline. */
  POINTS_HOLD_EXPIRY_INTERVAL_MS: z.coerce.number().int().min(50).max(600_000).default(5_000),
  /** How often the lot expiry job expires what is left of lots past their expiry. */
  POINTS_LOT_EXPIRY_INTERVAL_MS: z.coerce.number().int().min(50).max(3_600_000).default(60_000),
  // ---- earning (src/earning, docs/points.md "Earning") ----
  /** How often the release job makes pending lots whose refund window has passed available. */
  POINTS_RELEASE_INTERVAL_MS: z.coerce.number().int().min(50).max(3_600_000).default(60_000),
  // ---- tiers and notices (src/tiers, src/accounts, docs/points.md "Tiers", "Expiry notices") ----
  /** How often the tier job moves accounts to the tier their rolling earnings reach (default daily). */
  POINTS_TIER_INTERVAL_MS: z.coerce.number().int().min(50).max(604_800_000).default(86_400_000),
  /** How often the notice job sends PointsExpiring for lots entering their programme's notice days. */
  POINTS_EXPIRY_NOTICE_INTERVAL_MS: z.coerce.number().int().min(50).max(86_400_000).default(3_600_000),
});
export type PointsConfig = z.infer<typeof pointsConfig>;
