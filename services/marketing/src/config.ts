import { serviceConfigSchema } from '@citybase/platform';
import { z } from 'zod';

export const marketingConfig = serviceConfigSchema({
  grpcPort: 50055,
  httpPort: 8085,
  database: 'citybase_marketing',
}).extend({
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
