import { z } from 'zod';

/**
 * Settings of the iot ops rooms (commands, doors and couriers, parking, EV charging), kept apart
 * from the broker and ingest settings so each group reads on its own. Merged into iotConfig.
 */
export const iotOpsSettings = {
  // ---- commands (src/commands, docs/iot.md "Commands") ----
  /** How often the commands job expires / times out commands and republishes unaccepted ones. */
  IOT_COMMANDS_JOB_INTERVAL_MS: z.coerce.number().int().min(50).max(600_000).default(1_000),
  // ---- parking and charging payments (src/parking, src/charging) ----
  /** How often due calls to payment (CreatePayment of a parking exit or a charging session) are made. */
  IOT_PAYMENT_JOB_INTERVAL_MS: z.coerce.number().int().min(50).max(600_000).default(2_000),
  /** Lifetime of a parking exit's payment intent (payment's expires_in_seconds, 60..86400). */
  IOT_PARKING_PAYMENT_TTL_SECONDS: z.coerce.number().int().min(60).max(86_400).default(900),
  IOT_CHARGING_PAYMENT_TTL_SECONDS: z.coerce.number().int().min(60).max(86_400).default(3_600),
  // ---- service-to-service calls (libs/platform outbound, docs/adr/0010-service-to-service-calls.md) ----
  IDENTITY_GRPC_URL: z.string().default('127.0.0.1:50051'),
  PAYMENT_GRPC_URL: z.string().default('127.0.0.1:50052'),
  /** iot's own API client at identity (scopes payment:write payment:read). */
  IOT_CLIENT_ID: z.string().default(''),
  IOT_CLIENT_SECRET: z.string().default(''),
};
