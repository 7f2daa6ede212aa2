import { serviceConfigSchema } from '@citybase/platform';
import { z } from 'zod';

export const settlementConfig = serviceConfigSchema({
  grpcPort: 50053,
  httpPort: 8083,
  database: 'citybase_settlement',
}).extend({
  // ---- escrow (src/escrow, docs/settlement-escrow.md) ----
  /** How often the auto-confirm job completes held orders past their deadline. */
  SETTLEMENT_AUTO_CONFIRM_INTERVAL_MS: z.coerce.number().int().min(50).max(600_000).default(5_000),
  // ---- payouts (src/payouts, docs/settlement-payouts.md) ----
  /** How long a payout's hold waits for the bank's answer (ConfirmPayout) before it expires. */
  SETTLEMENT_PAYOUT_HOLD_HOURS: z.coerce
    .number()
    .positive()
    .max(24 * 30)
    .default(72),
  /** How often the hold expiry worker looks for holds whose time is up. */
  SETTLEMENT_HOLD_EXPIRY_INTERVAL_MS: z.coerce.number().int().min(100).max(600_000).default(10_000),
  // ---- points clearing (src/points-clearing, docs/settlement-points.md) ----
  /** How often the points clearing cycle settles open obligations between operators (default hourly). */
  SETTLEMENT_POINTS_CLEARING_INTERVAL_MS: z.coerce.number().int().min(100).max(86_400_000).default(3_600_000),
  /** Currency of the channels' daily statements (their CSV carries none). */
  SETTLEMENT_STATEMENT_CURRENCY: z
    .string()
    .regex(/^[A-Z]{3}$/, 'must be a 3-letter ISO 4217 code')
    .default('CNY'),
});
export type SettlementConfig = z.infer<typeof settlementConfig>;
