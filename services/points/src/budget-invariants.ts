import type { Pool } from 'pg';

/**
 * The budget invariants of docs/points.md, recomputed from the rows (run after every budget test):
 * - every node: issued + allotted_to_children <= allotted, every column >= 0;
 * - allotted_to_children = Σ allotted of the node's children;
 * - a child is one level below its parent, in the parent's period, of the parent's operator.
 * `issued` = Σ lots charged minus their reversals joins this check once lots exist (the accounts
 * room): until then the tests compare it with the charges they made.
 */
export async function checkBudgetInvariants(pool: Pool): Promise<{ violations: string[] }> {
  const violations: string[] = [];
  const { rows: over } = await pool.query<{ budget_id: string }>(
    `SELECT budget_id FROM budgets
      WHERE issued + allotted_to_children > allotted
         OR least(allotted, allotted_to_children, issued, redeemed, expired) < 0`,
  );
  for (const r of over) violations.push(`budget ${r.budget_id}: over its allotment or negative`);
  const { rows: sums } = await pool.query<{ budget_id: string; atc: string; children: string }>(
    `SELECT p.budget_id, p.allotted_to_children::text AS atc,
            COALESCE(sum(c.allotted), 0)::text AS children
       FROM budgets p LEFT JOIN budgets c ON c.parent_id = p.budget_id
      GROUP BY p.budget_id
     HAVING p.allotted_to_children <> COALESCE(sum(c.allotted), 0)`,
  );
  for (const r of sums)
    violations.push(`budget ${r.budget_id}: allotted_to_children ${r.atc} but children have ${r.children}`);
  const { rows: shape } = await pool.query<{ budget_id: string }>(
    `SELECT c.budget_id FROM budgets c JOIN budgets p ON p.budget_id = c.parent_id
      WHERE c.period <> p.period
         OR (c.level = 'OPERATOR' AND p.level <> 'CITY')
         OR (c.level = 'PROJECT' AND (p.level <> 'OPERATOR' OR p.operator_id <> c.operator_id))
         OR c.level = 'CITY'`,
  );
  for (const r of shape) violations.push(`budget ${r.budget_id}: its parent is not the level above`);
  return { violations };
}
