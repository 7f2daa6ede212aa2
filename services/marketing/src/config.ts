import { serviceConfigSchema } from '@citybase/platform';
import { z } from 'zod';

export const marketingConfig = serviceConfigSchema({
  grpcPort: 50055,
  httpPort: 8085,
  database: 'citybase_marketing',
}).extend({
  // ---- codes (src/codes, docs/marketing.md "Codes") ----
  /** How often the code job looks for running batches (a pass works a batch off in chunks). */
  MARKETING_CODES_INTERVAL_MS: z.coerce.number().int().min(50).max(600_000).default(1_000),
  /** Codes inserted per transaction of the code job (its progress step). */
  MARKETING_CODES_CHUNK: z.coerce.number().int().min(100).max(50_000).default(5_000),
  // ---- coupons (src/coupons, docs/marketing.md "Coupons") ----
  /** How often the coupon expiry job expires AVAILABLE coupons past their validity. */
  MARKETING_COUPON_EXPIRY_INTERVAL_MS: z.coerce.number().int().min(50).max(3_600_000).default(60_000),
  /** How often the gate reconcile job rebuilds flash-sale counters that are missing or disagree. */
  MARKETING_GATE_RECONCILE_INTERVAL_MS: z.coerce.number().int().min(50).max(3_600_000).default(30_000),
  /** Prefix of the flash-sale gate's Redis keys (Redis is shared). */
  MARKETING_GATE_KEY_PREFIX: z.string().min(1).max(64).default('citybase:marketing:gate'),
  // ---- redemptions (src/redemptions, docs/marketing.md "Redemptions") ----
  /** Lifetime of a coupon reservation whose request asks for 0 seconds, 1-3600. */
  MARKETING_RESERVATION_TTL_SECONDS: z.coerce.number().int().min(1).max(3600).default(600),
  /** How long after a QR token's expiry an offline scan may still be submitted (and the hold lasts). */
  MARKETING_OFFLINE_GRACE_SECONDS: z.coerce.number().int().min(0).max(86_400).default(1800),
  /** How often the hold expiry job ends held redemptions past their deadline. */
  MARKETING_HOLD_EXPIRY_INTERVAL_MS: z.coerce.number().int().min(50).max(600_000).default(5_000),
  // ---- group buying (src/group-deals, docs/marketing.md "Group buying") ----
  /** How long a joined seat is held while its payment is open (never past the deal's deadline). */
  MARKETING_GROUP_HOLD_SECONDS: z.coerce.number().int().min(1).max(86_400).default(600),
  /** How often the group deals job releases held seats, ends deals at their deadline and makes due calls. */
  MARKETING_GROUP_JOB_INTERVAL_MS: z.coerce.number().int().min(50).max(600_000).default(2_000),
  // ---- service-to-service calls (libs/platform outbound, docs/adr/0010-service-to-service-calls.md) ----
  IDENTITY_GRPC_URL: z.string().default('127.0.0.1:50051'),
  PAYMENT_GRPC_URL: z.string().default('127.0.0.1:50052'),
  SETTLEMENT_GRPC_URL: z.string().default('127.0.0.1:50053'),
  /** Marketing's own API client at identity (scopes payment:write payment:refund settlement:write). */
  MARKETING_CLIENT_ID: z.string().default(''),
  MARKETING_CLIENT_SECRET: z.string().default(''),
});
export type MarketingConfig = z.infer<typeof marketingConfig>;
