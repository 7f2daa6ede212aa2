import { base64Key32, serviceConfigSchema } from '@citybase/platform';
import { z } from 'zod';

export const paymentConfig = serviceConfigSchema({
  grpcPort: 50052,
  httpPort: 8082,
  database: 'citybase_payment',
}).extend({
  /**
   * Base64 of 32 random bytes: encrypts the projects' channel credentials at rest (AES-256-GCM).
   * Keep it in the city's secret store; without it stored credentials cannot be read.
   */
  PAYMENT_CREDENTIALS_KEY: base64Key32,
  /** Base URL at which channels reach this service's HTTP port (their notifications are posted there). */
  PAYMENT_PUBLIC_URL: z.string().url().default('http://127.0.0.1:8082'),
  /** Per call to a channel; a call without an answer by then has an unknown outcome. */
  PAYMENT_CHANNEL_TIMEOUT_MS: z.coerce.number().int().min(100).max(60_000).default(5_000),
  /** How often payments in an unknown state or past their expiry are resolved with the channel. */
  PAYMENT_RECONCILE_INTERVAL_MS: z.coerce.number().int().min(100).max(600_000).default(5_000),
  /**
   * How often settlement's pending split and split-return instructions are carried out at the
   * channel; also the first retry delay when the channel gives no answer (doubling up to 5 minutes).
   */
  PAYMENT_INSTRUCTION_INTERVAL_MS: z.coerce.number().int().min(100).max(600_000).default(5_000),
  // ---- checkouts (src/checkouts, docs/payment-checkout.md) ----
  /**
   * How often the checkout job drives due sagas (a payment's outcome, a step to retry, an expiry);
   * also the first retry delay of a step whose callee did not answer (doubling up to 1 minute).
   */
  PAYMENT_CHECKOUT_INTERVAL_MS: z.coerce.number().int().min(50).max(600_000).default(1_000),
  /**
   * How long a driver (the request path, the recovery job of one replica) holds a saga: a driver
   * that dies leaves its sagas due again once this runs out. It must outlive one step's calls (at
   * most the outbound deadline each); tests and operators may shorten it.
   */
  PAYMENT_CHECKOUT_LEASE_MS: z.coerce.number().int().min(1_000).max(600_000).default(30_000),
  /**
   * The lifetime asked of a checkout's coupon and points reservations, in seconds. 0 (the default):
   * the checkout's expiry plus a 600 s margin, at most 3600 (reservationTtlSeconds). A positive value
   * replaces it for every new checkout (tests, staging): shorter than the checkout's expiry, a
   * reservation may run out before the payment succeeds, and the saga then refunds the money
   * (docs/payment-checkout.md, "A reservation refused confirmation").
   */
  PAYMENT_CHECKOUT_RESERVATION_TTL_SECONDS: z.coerce.number().int().min(0).max(3_600).default(0),
  /** How long a programme's point value (points' GetProgramme) is cached. */
  PAYMENT_POINT_VALUE_CACHE_MS: z.coerce.number().int().min(0).max(3_600_000).default(60_000),
  /**
   * Test hook of the chaos tests (tools/e2e/test/checkout-chaos.int-spec.ts): the process exits at
   * once (like a SIGKILL) when a saga reaches this point, e.g. "after_coupon_reserved",
   * "after_points_reserved", "after_channel_order", "after_payment_succeeded",
   * "after_points_confirmed", "after_coupon_confirmed". Empty (the default): never.
   */
  CITYBASE_CRASH_AT: z.string().default(''),
  // ---- service-to-service calls (libs/platform outbound, docs/adr/0010-service-to-service-calls.md) ----
  IDENTITY_GRPC_URL: z.string().default('127.0.0.1:50051'),
  POINTS_GRPC_URL: z.string().default('127.0.0.1:50054'),
  MARKETING_GRPC_URL: z.string().default('127.0.0.1:50055'),
  /**
   * Payment's own API client at identity (scopes points:write points:read marketing:redeem
   * marketing:claim): checkouts reserve, confirm and cancel points and coupons with it.
   */
  PAYMENT_CLIENT_ID: z.string().default(''),
  PAYMENT_CLIENT_SECRET: z.string().default(''),
});
export type PaymentConfig = z.infer<typeof paymentConfig>;
