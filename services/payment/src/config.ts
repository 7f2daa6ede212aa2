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
});
export type PaymentConfig = z.infer<typeof paymentConfig>;
