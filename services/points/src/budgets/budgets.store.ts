import type { Pool, PoolClient } from '@citybase/platform';
import type { BudgetLevelName, BudgetNode } from './budgets.domain';
import { BudgetsErrors } from './budgets.errors';

/**
 * All SQL of budgets; mutations run in the caller's transaction. Table budgets:
 * migrations/0002_budgets.sql (CHECK budgets_within_allotment: issued + allotted_to_children <=
 * allotted, every column >= 0).
 */

export interface BudgetRow {
  budget_id: string;
  period: string;
  level: BudgetLevelName;
  operator_id: string;
  project_id: string;
  parent_id: string | null;
  allotted: bigint;
  allotted_to_children: bigint;
  issued: bigint;
  redeemed: bigint;
  expired: bigint;
  updated_by: string;
  created_at: Date;
  updated_at: Date;
}

/** Issued, redeemed and expired of a node and every node below it. */
export interface SubtreeTotals {
  subtree_issued: bigint;
  subtree_redeemed: bigint;
  subtree_expired: bigint;
}

export type BudgetWithTotals = BudgetRow & SubtreeTotals;

type Db = Pool | PoolClient;

const WITHIN_ALLOTMENT = 'budgets_within_allotment';

/**
 * The CHECK refused the row, or a sum went past int64 (22003: numeric_value_out_of_range), which
 * only a change beyond any allotment can reach: every column stays <= allotted <= int64 max.
 */
function isAllotmentViolation(err: unknown): boolean {
  const e = err as { code?: string; constraint?: string } | null;
  return (e?.code === '23514' && e.constraint === WITHIN_ALLOTMENT) || e?.code === '22003';
}

export function nodeLabel(n: { operatorId: string; projectId: string }): string {
  if (n.operatorId === '') return 'the city';
  return n.projectId === '' ? `operator ${n.operatorId}` : `project ${n.projectId}`;
}

// ---- issuance (called by other rooms inside their transaction) ----

/**
 * issued += points on the node; BUDGET_NOT_SET without one, BUDGET_EXCEEDED when the CHECK
 * refuses (the caller's transaction is then aborted, so it writes nothing).
 */
export async function chargeNode(client: PoolClient, node: BudgetNode, points: bigint): Promise<string> {
  let rows: { budget_id: string }[];
  try {
    ({ rows } = await client.query<{ budget_id: string }>(
      `UPDATE budgets SET issued = issued + $4, updated_at = clock_timestamp()
        WHERE period = $1 AND operator_id = $2 AND project_id = $3
        RETURNING budget_id`,
      [node.period, node.operatorId, node.projectId, points.toString()],
    ));
  } catch (err) {
    if (isAllotmentViolation(err)) throw BudgetsErrors.exceeded(nodeLabel(node), node.period);
    throw err;
  }
  const row = rows[0];
  if (!row) throw BudgetsErrors.notSet(nodeLabel(node), node.period);
  return row.budget_id;
}

/** The node's budget id for the period, without a lock; BUDGET_NOT_SET without one. */
export async function nodeId(db: Db, node: BudgetNode): Promise<string> {
  const { rows } = await db.query<{ budget_id: string }>(
    'SELECT budget_id FROM budgets WHERE period = $1 AND operator_id = $2 AND project_id = $3',
    [node.period, node.operatorId, node.projectId],
  );
  const row = rows[0];
  if (!row) throw BudgetsErrors.notSet(nodeLabel(node), node.period);
  return row.budget_id;
}

/** issued += points on the node of `budgetId`; BUDGET_EXCEEDED when the CHECK refuses. */
export async function chargeById(
  client: PoolClient,
  budgetId: string,
  node: BudgetNode,
  points: bigint,
): Promise<void> {
  try {
    await addToNode(client, budgetId, 'issued', points);
  } catch (err) {
    if (isAllotmentViolation(err)) throw BudgetsErrors.exceeded(nodeLabel(node), node.period);
    throw err;
  }
}

/** column += delta on one node by id (uncharge: issued, negative; redeemed; expired). */
export async function addToNode(
  client: PoolClient,
  budgetId: string,
  column: 'issued' | 'redeemed' | 'expired',
  delta: bigint,
): Promise<void> {
  const { rowCount } = await client.query(
    `UPDATE budgets SET ${column} = ${column} + $2, updated_at = clock_timestamp() WHERE budget_id = $1`,
    [budgetId, delta.toString()],
  );
  if (rowCount !== 1) throw new Error(`budget ${budgetId} does not exist`);
}

// ---- SetBudget ----

export async function findNode(db: Db, node: BudgetNode): Promise<BudgetRow | undefined> {
  const { rows } = await db.query<BudgetRow>(
    'SELECT * FROM budgets WHERE period = $1 AND operator_id = $2 AND project_id = $3',
    [node.period, node.operatorId, node.projectId],
  );
  return rows[0];
}

/** The node under its row lock, made (allotted 0) first when it does not exist yet. */
export async function lockOrCreateNode(
  client: PoolClient,
  row: { budget_id: string; level: BudgetLevelName; parent_id: string | null; updated_by: string },
  node: BudgetNode,
): Promise<{ row: BudgetRow; created: boolean }> {
  const inserted = await client.query(
    `INSERT INTO budgets (budget_id, period, level, operator_id, project_id, parent_id, updated_by)
     VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (period, operator_id, project_id) DO NOTHING`,
    [row.budget_id, node.period, row.level, node.operatorId, node.projectId, row.parent_id, row.updated_by],
  );
  const { rows } = await client.query<BudgetRow>(
    'SELECT * FROM budgets WHERE period = $1 AND operator_id = $2 AND project_id = $3 FOR UPDATE',
    [node.period, node.operatorId, node.projectId],
  );
  return { row: rows[0]!, created: inserted.rowCount === 1 };
}

/**
 * allotted += delta on the (locked) node and allotted_to_children += delta on its parent, in one
 * statement. The CHECK refuses a raise the parent cannot hand down (only the parent's row can
 * fail when delta > 0) and a lowering below the node's use (only the node's row when delta < 0).
 */
export async function changeAllotment(
  client: PoolClient,
  node: BudgetRow,
  delta: bigint,
  updatedBy: string,
): Promise<void> {
  if (delta === 0n) return;
  try {
    await client.query(
      `UPDATE budgets
          SET allotted = allotted + CASE WHEN budget_id = $1 THEN $3::bigint ELSE 0 END,
              allotted_to_children = allotted_to_children + CASE WHEN budget_id = $2 THEN $3::bigint ELSE 0 END,
              updated_by = CASE WHEN budget_id = $1 THEN $4 ELSE updated_by END,
              updated_at = clock_timestamp()
        WHERE budget_id = $1 OR budget_id = $2`,
      [node.budget_id, node.parent_id, delta.toString(), updatedBy],
    );
  } catch (err) {
    if (isAllotmentViolation(err))
      throw delta > 0n ? BudgetsErrors.parentExceeded(node.period) : BudgetsErrors.belowUse(node.period);
    throw err;
  }
}

// ---- reads ----

const TOTALS = `
  (SELECT COALESCE(sum(s.issued), 0)::bigint FROM budgets s
    WHERE s.period = b.period AND (b.operator_id = '' OR s.operator_id = b.operator_id)
      AND (b.project_id = '' OR s.project_id = b.project_id)) AS subtree_issued,
  (SELECT COALESCE(sum(s.redeemed), 0)::bigint FROM budgets s
    WHERE s.period = b.period AND (b.operator_id = '' OR s.operator_id = b.operator_id)
      AND (b.project_id = '' OR s.project_id = b.project_id)) AS subtree_redeemed,
  (SELECT COALESCE(sum(s.expired), 0)::bigint FROM budgets s
    WHERE s.period = b.period AND (b.operator_id = '' OR s.operator_id = b.operator_id)
      AND (b.project_id = '' OR s.project_id = b.project_id)) AS subtree_expired`;

/** A node with the totals of its subtree (the city: every node of the period). */
export async function findNodeWithTotals(db: Db, node: BudgetNode): Promise<BudgetWithTotals | undefined> {
  const { rows } = await db.query<BudgetWithTotals>(
    `SELECT b.*, ${TOTALS} FROM budgets b
      WHERE b.period = $1 AND b.operator_id = $2 AND b.project_id = $3`,
    [node.period, node.operatorId, node.projectId],
  );
  return rows[0];
}

/**
 * One page (size + 1 rows, for pageOf) of the children of a node: the city's operators (parent
 * operator '') or an operator's projects, by the child's id after `after`.
 */
export async function listChildren(
  db: Db,
  parent: BudgetNode,
  size: number,
  after: string | undefined,
): Promise<BudgetWithTotals[]> {
  const { rows } = await db.query<BudgetWithTotals>(
    `SELECT b.*, ${TOTALS} FROM budgets b
      WHERE b.period = $1
        AND b.level = CASE WHEN $2 = '' THEN 'OPERATOR' ELSE 'PROJECT' END
        AND ($2 = '' OR b.operator_id = $2)
        AND ($3::text IS NULL OR (CASE WHEN $2 = '' THEN b.operator_id ELSE b.project_id END) > $3)
      ORDER BY b.operator_id, b.project_id
      LIMIT $4`,
    [parent.period, parent.operatorId, after ?? null, size + 1],
  );
  return rows;
}
