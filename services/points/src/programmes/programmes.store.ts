import type { Pool, PoolClient } from '@citybase/platform';
import type { ProgrammeTerms, ShortfallPolicyName } from './programmes.domain';

/** All SQL of programmes (migrations/0001_programmes.sql); writes run in the caller's transaction. */

export interface ProgrammeRow {
  operator_id: string;
  point_value_currency: string;
  point_value_minor: bigint;
  lot_lifetime_days: number;
  refund_window_hours: number;
  shortfall_policy: ShortfallPolicyName;
  expiry_notice_days: number;
  /** threshold as text: jsonb has no int64. */
  tiers: { name: string; threshold: string; multiplier_permille: number }[];
  tier_window_days: number;
  updated_by: string;
  created_at: Date;
  updated_at: Date;
}

export async function findProgramme(
  db: Pool | PoolClient,
  operatorId: string,
): Promise<ProgrammeRow | undefined> {
  const { rows } = await db.query<ProgrammeRow>('SELECT * FROM programmes WHERE operator_id = $1', [
    operatorId,
  ]);
  return rows[0];
}

export async function upsertProgramme(
  client: PoolClient,
  p: ProgrammeTerms,
  updatedBy: string,
): Promise<void> {
  await client.query(
    `INSERT INTO programmes (operator_id, point_value_currency, point_value_minor, lot_lifetime_days,
                             refund_window_hours, shortfall_policy, expiry_notice_days, tiers,
                             tier_window_days, updated_by)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb, $9, $10)
     ON CONFLICT (operator_id) DO UPDATE
       SET point_value_currency = EXCLUDED.point_value_currency,
           point_value_minor = EXCLUDED.point_value_minor,
           lot_lifetime_days = EXCLUDED.lot_lifetime_days,
           refund_window_hours = EXCLUDED.refund_window_hours,
           shortfall_policy = EXCLUDED.shortfall_policy,
           expiry_notice_days = EXCLUDED.expiry_notice_days,
           tiers = EXCLUDED.tiers,
           tier_window_days = EXCLUDED.tier_window_days,
           updated_by = EXCLUDED.updated_by,
           updated_at = clock_timestamp()`,
    [
      p.operatorId,
      p.pointValue.currency,
      p.pointValue.amountMinor.toString(),
      p.lotLifetimeDays,
      p.refundWindowHours,
      p.shortfallPolicy,
      p.expiryNoticeDays,
      JSON.stringify(
        p.tiers.map((t) => ({
          name: t.name,
          threshold: t.threshold.toString(),
          multiplier_permille: t.multiplierPermille,
        })),
      ),
      p.tierWindowDays,
      updatedBy,
    ],
  );
}
