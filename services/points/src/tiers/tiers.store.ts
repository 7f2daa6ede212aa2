import type { Pool, PoolClient } from '@citybase/platform';

/**
 * All SQL of tiers: rolling earnings from the earning room's `earnings` rows, and the account's
 * tier column (migrations/0003_accounts.sql), changed under the account's row lock.
 */

type Db = Pool | PoolClient;

/**
 * An account's rolling earnings: Σ (points - reversed) of its earnings paid within the last
 * `windowDays` (what payments earned, less what their refunds took back).
 */
export async function rollingEarnings(db: Db, accountId: string, windowDays: number): Promise<bigint> {
  const { rows } = await db.query<{ rolling: bigint }>(
    `SELECT coalesce(sum(points - reversed), 0)::bigint AS rolling FROM earnings
      WHERE account_id = $1 AND paid_at > now() - make_interval(days => $2)`,
    [accountId, windowDays],
  );
  return rows[0]?.rolling ?? 0n;
}

/** Sets the account's tier if it is still `from`; false when it changed meanwhile (nothing done). */
export async function changeTier(
  client: PoolClient,
  accountId: string,
  from: string,
  to: string,
): Promise<boolean> {
  const { rowCount } = await client.query(
    'UPDATE accounts SET tier = $3 WHERE account_id = $1 AND tier = $2',
    [accountId, from, to],
  );
  return rowCount === 1;
}

export interface TierCandidate {
  account_id: string;
  operator_id: string;
  tier: string;
  rolling: bigint;
}

/**
 * One batch of the tier job: accounts (after `afterId`, by id) of programmes with tiers, or with a
 * tier set, and their rolling earnings now.
 */
export async function tierCandidates(db: Db, afterId: string, limit: number): Promise<TierCandidate[]> {
  const { rows } = await db.query<TierCandidate>(
    `SELECT a.account_id, a.operator_id, a.tier,
            coalesce(sum(e.points - e.reversed), 0)::bigint AS rolling
       FROM accounts a
       JOIN programmes p ON p.operator_id = a.operator_id
       LEFT JOIN earnings e
         ON e.account_id = a.account_id AND e.paid_at > now() - make_interval(days => p.tier_window_days)
      WHERE a.account_id > $1::uuid AND (jsonb_array_length(p.tiers) > 0 OR a.tier <> '')
      GROUP BY a.account_id, a.operator_id, a.tier
      ORDER BY a.account_id
      LIMIT $2`,
    [afterId, limit],
  );
  return rows;
}
