import type { PoolClient } from '@citybase/platform';
import type { Queryable } from '../ledger/ledger.service';

/** SQL of split rules (migrations/0003_escrow.sql). */

export interface SplitRuleRow {
  operator_id: string;
  project_id: string;
  merchant_category: string;
  commission_bps: number;
  property_share_bps: number;
  tax_bps: number;
  auto_confirm_hours: number;
  updated_by: string;
  updated_at: Date;
}

/** The rule of the merchant's category, else the project's default rule, else none. */
export async function findApplicableRule(
  db: Queryable,
  o: { operatorId: string; projectId: string; merchantCategory: string },
): Promise<SplitRuleRow | undefined> {
  const { rows } = await db.query<SplitRuleRow>(
    `SELECT * FROM split_rules
      WHERE operator_id = $1 AND project_id = $2 AND merchant_category IN ($3, '')
      ORDER BY merchant_category DESC LIMIT 1`,
    [o.operatorId, o.projectId, o.merchantCategory],
  );
  return rows[0];
}

export async function upsertRule(
  client: PoolClient,
  r: Omit<SplitRuleRow, 'updated_at'>,
): Promise<SplitRuleRow> {
  const { rows } = await client.query<SplitRuleRow>(
    `INSERT INTO split_rules (operator_id, project_id, merchant_category, commission_bps, property_share_bps,
                              tax_bps, auto_confirm_hours, updated_by)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
     ON CONFLICT (operator_id, project_id, merchant_category) DO UPDATE
       SET commission_bps = EXCLUDED.commission_bps, property_share_bps = EXCLUDED.property_share_bps,
           tax_bps = EXCLUDED.tax_bps, auto_confirm_hours = EXCLUDED.auto_confirm_hours,
           updated_by = EXCLUDED.updated_by, updated_at = clock_timestamp()
     RETURNING *`,
    [
      r.operator_id,
      r.project_id,
      r.merchant_category,
      r.commission_bps,
      r.property_share_bps,
      r.tax_bps,
      r.auto_confirm_hours,
      r.updated_by,
    ],
  );
  return rows[0]!;
}

export async function findRule(
  db: Queryable,
  key: { operatorId: string; projectId: string; merchantCategory: string },
): Promise<SplitRuleRow | undefined> {
  const { rows } = await db.query<SplitRuleRow>(
    'SELECT * FROM split_rules WHERE operator_id = $1 AND project_id = $2 AND merchant_category = $3',
    [key.operatorId, key.projectId, key.merchantCategory],
  );
  return rows[0];
}

export async function listRules(
  db: Queryable,
  operatorId: string,
  projectId: string,
): Promise<SplitRuleRow[]> {
  const { rows } = await db.query<SplitRuleRow>(
    'SELECT * FROM split_rules WHERE operator_id = $1 AND project_id = $2 ORDER BY merchant_category',
    [operatorId, projectId],
  );
  return rows;
}
