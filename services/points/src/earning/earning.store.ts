import type { Pool, PoolClient } from '@citybase/platform';
import { EntryKind } from '@citybase/contracts/citybase/points/v1/points';
import type { ListEarningRulesQuery, SetEarningRuleCommand } from './earning.domain';

/**
 * All SQL of earning (migrations/0004_earning.sql): earning rules and the earnings of payments;
 * mutations run in the caller's transaction. Lots and history entries are the accounts room's
 * (accounts.store.ts).
 */

type Db = Pool | PoolClient;

export interface EarningRuleRow {
  rule_id: string;
  operator_id: string;
  project_id: string;
  scenario: number;
  points_per_yuan: number;
  daily_cap: bigint;
  updated_by: string;
  created_at: Date;
  updated_at: Date;
}

export interface EarningRow {
  payment_id: string;
  operator_id: string;
  project_id: string;
  holder_id: string;
  account_id: string | null;
  rule_id: string | null;
  scenario: number;
  paid_minor: bigint;
  paid_currency: string;
  paid_at: Date;
  city_day: string;
  points: bigint;
  debt_repaid: bigint;
  lot_id: string | null;
  reversed: bigint;
  expired_absorbed: bigint;
  reason: string;
  event_id: string;
  created_at: Date;
}

// ---- rules ----

/** Creates or changes the rule of (operator, project, scenario); returns it as it is now. */
export async function upsertRule(
  client: PoolClient,
  ruleId: string,
  r: Omit<SetEarningRuleCommand, 'requestId'>,
  updatedBy: string,
): Promise<EarningRuleRow> {
  const { rows } = await client.query<EarningRuleRow>(
    `INSERT INTO earning_rules (rule_id, operator_id, project_id, scenario, points_per_yuan, daily_cap, updated_by)
     VALUES ($1, $2, $3, $4, $5, $6, $7)
     ON CONFLICT (operator_id, project_id, scenario) DO UPDATE
       SET points_per_yuan = EXCLUDED.points_per_yuan, daily_cap = EXCLUDED.daily_cap,
           updated_by = EXCLUDED.updated_by, updated_at = clock_timestamp()
     RETURNING *`,
    [ruleId, r.operatorId, r.projectId, r.scenario, r.pointsPerYuan, r.dailyCap.toString(), updatedBy],
  );
  return rows[0] as EarningRuleRow;
}

export async function findRuleOf(
  db: Db,
  key: { operatorId: string; projectId: string; scenario: number },
): Promise<EarningRuleRow | undefined> {
  const { rows } = await db.query<EarningRuleRow>(
    'SELECT * FROM earning_rules WHERE operator_id = $1 AND project_id = $2 AND scenario = $3',
    [key.operatorId, key.projectId, key.scenario],
  );
  return rows[0];
}

/** The rule a payment earns under: its project's for the scenario, else the operator's. */
export async function ruleFor(
  db: Db,
  p: { operatorId: string; projectId: string; scenario: number },
): Promise<EarningRuleRow | undefined> {
  const { rows } = await db.query<EarningRuleRow>(
    `SELECT * FROM earning_rules
      WHERE operator_id = $1 AND scenario = $3 AND (project_id = $2 OR project_id = '')
      ORDER BY project_id DESC LIMIT 1`,
    [p.operatorId, p.projectId, p.scenario],
  );
  return rows[0];
}

/** One page (size + 1 rows) of an operator's rules (a project: the operator's and its own). */
export async function listRules(db: Db, q: ListEarningRulesQuery): Promise<EarningRuleRow[]> {
  const { rows } = await db.query<EarningRuleRow>(
    `SELECT * FROM earning_rules
      WHERE operator_id = $1 AND ($2 = '' OR project_id IN ('', $2))
        AND ($3::text IS NULL OR (project_id, scenario) > ($3::text, $4::smallint))
      ORDER BY project_id, scenario
      LIMIT $5`,
    [q.operatorId, q.projectId, q.after?.projectId ?? null, q.after?.scenario ?? null, q.size + 1],
  );
  return rows;
}

// ---- earnings ----

export async function findEarning(db: Db, paymentId: string): Promise<EarningRow | undefined> {
  const { rows } = await db.query<EarningRow>('SELECT * FROM earnings WHERE payment_id = $1', [paymentId]);
  return rows[0];
}

export async function lockEarning(client: PoolClient, paymentId: string): Promise<EarningRow | undefined> {
  const { rows } = await client.query<EarningRow>('SELECT * FROM earnings WHERE payment_id = $1 FOR UPDATE', [
    paymentId,
  ]);
  return rows[0];
}

/** Records a payment's earning (or why it earned nothing); false when the payment has one already. */
export async function insertEarning(
  client: PoolClient,
  e: Omit<EarningRow, 'reversed' | 'expired_absorbed' | 'created_at'>,
): Promise<boolean> {
  const { rowCount } = await client.query(
    `INSERT INTO earnings (payment_id, operator_id, project_id, holder_id, account_id, rule_id, scenario,
                           paid_minor, paid_currency, paid_at, city_day, points, debt_repaid, lot_id, reason, event_id)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)
     ON CONFLICT (payment_id) DO NOTHING`,
    [
      e.payment_id,
      e.operator_id,
      e.project_id,
      e.holder_id,
      e.account_id,
      e.rule_id,
      e.scenario,
      e.paid_minor.toString(),
      e.paid_currency,
      e.paid_at,
      e.city_day,
      e.points.toString(),
      e.debt_repaid.toString(),
      e.lot_id,
      e.reason,
      e.event_id,
    ],
  );
  return rowCount === 1;
}

/** Points the holder earned under the rule on the city day (the daily cap's count). */
export async function earnedOnDay(
  client: PoolClient,
  accountId: string,
  ruleId: string,
  day: string,
): Promise<bigint> {
  const { rows } = await client.query<{ points: bigint }>(
    `SELECT coalesce(sum(points), 0)::bigint AS points FROM earnings
      WHERE account_id = $1 AND rule_id = $2 AND city_day = $3::date`,
    [accountId, ruleId, day],
  );
  return rows[0]?.points ?? 0n;
}

/** Adds a refund's share to what the earning reversed; `absorbed` of it was already gone by expiry. */
export async function addReversed(
  client: PoolClient,
  paymentId: string,
  points: bigint,
  absorbed: bigint,
): Promise<void> {
  await client.query(
    'UPDATE earnings SET reversed = reversed + $2, expired_absorbed = expired_absorbed + $3 WHERE payment_id = $1',
    [paymentId, points.toString(), absorbed.toString()],
  );
}

/**
 * Units of a lot that its expiry removed or will remove: what EXPIRED entries took from it, plus,
 * once past its expiry, what the expiry job has not taken yet (its unheld remainder).
 */
export async function lapsedUnits(
  client: PoolClient,
  lot: { lot_id: string; expires_at: Date; remaining: bigint; held: bigint },
  now: Date,
): Promise<bigint> {
  const { rows } = await client.query<{ expired: bigint }>(
    `SELECT coalesce(sum(-el.remaining_delta), 0)::bigint AS expired
       FROM entry_lots el JOIN points_entries e USING (entry_id)
      WHERE el.lot_id = $1 AND e.kind = ${EntryKind.ENTRY_KIND_EXPIRED}`,
    [lot.lot_id],
  );
  const pastExpiry = lot.expires_at <= now ? lot.remaining - lot.held : 0n;
  return rows[0].expired + pastExpiry;
}
