import type { Queryable } from './ledger.store';

/**
 * The ledger's invariants, recomputed from scratch (not from the balances the service maintains).
 * Run after every settlement integration test (test/invariants.ts) and by anyone against a live
 * database: `node services/settlement/dist/admin.js check-ledger` or `citybase ledger check`.
 */
export interface Violation {
  invariant: string;
  detail: string;
}

export interface InvariantReport {
  ok: boolean;
  checked: Record<string, number>;
  violations: Violation[];
}

const LIMIT = 20;

export async function checkLedgerInvariants(
  db: Queryable,
  opts: {
    /** Compare escrow accounts with escrow orders (off only for bare postings without orders, e.g. the bench). */
    escrow?: boolean;
  } = {},
): Promise<InvariantReport> {
  const violations: Violation[] = [];
  const checked: Record<string, number> = {};
  const count = async (name: string, sql: string) => {
    const { rows } = await db.query<{ n: string }>(sql);
    checked[name] = Number(rows[0]!.n);
  };

  await count('transactions', 'SELECT count(*) AS n FROM ledger_transactions');
  await count('entries', 'SELECT count(*) AS n FROM ledger_entries');
  await count('accounts', 'SELECT count(*) AS n FROM ledger_accounts');

  // 1. the postings of every transaction sum to zero per currency
  const unbalanced = await db.query<{ tx_id: string; currency: string; total: string }>(
    `SELECT tx_id, currency, sum(amount_minor)::text AS total FROM ledger_entries
      GROUP BY tx_id, currency HAVING sum(amount_minor) <> 0 LIMIT ${LIMIT}`,
  );
  for (const r of unbalanced.rows)
    violations.push({
      invariant: 'zero_sum',
      detail: `transaction ${r.tx_id} sums to ${r.total} ${r.currency}`,
    });

  // every transaction has entries (at least two, since none is zero)
  const empty = await db.query<{ tx_id: string; n: string }>(
    `SELECT t.tx_id, count(e.entry_id)::text AS n FROM ledger_transactions t
       LEFT JOIN ledger_entries e USING (tx_id) GROUP BY t.tx_id HAVING count(e.entry_id) < 2 LIMIT ${LIMIT}`,
  );
  for (const r of empty.rows)
    violations.push({ invariant: 'zero_sum', detail: `transaction ${r.tx_id} has ${r.n} entries` });

  // 2. every balance row equals the sum of its entries
  const drift = await db.query<{ account_id: string; shard: number; balance: string; entries: string }>(
    `SELECT b.account_id, b.shard, b.balance_minor::text AS balance, coalesce(e.total, 0)::text AS entries
       FROM ledger_balances b
       LEFT JOIN (SELECT account_id, shard, sum(amount_minor) AS total FROM ledger_entries GROUP BY 1, 2) e
         USING (account_id, shard)
      WHERE b.balance_minor <> coalesce(e.total, 0) LIMIT ${LIMIT}`,
  );
  for (const r of drift.rows)
    violations.push({
      invariant: 'balance_equals_entries',
      detail: `account ${r.account_id} shard ${r.shard}: balance ${r.balance}, entries sum ${r.entries}`,
    });
  const orphan = await db.query<{ account_id: string; shard: number }>(
    `SELECT e.account_id, e.shard FROM ledger_entries e
       LEFT JOIN ledger_balances b USING (account_id, shard) WHERE b.account_id IS NULL LIMIT ${LIMIT}`,
  );
  for (const r of orphan.rows)
    violations.push({
      invariant: 'balance_equals_entries',
      detail: `entries of account ${r.account_id} shard ${r.shard} have no balance row`,
    });

  // 3. held amounts equal the pending holds
  const held = await db.query<{ account_id: string; held: string; holds: string }>(
    `SELECT b.account_id, sum(b.held_minor)::text AS held, coalesce(max(h.total), 0)::text AS holds
       FROM ledger_balances b
       LEFT JOIN (SELECT account_id, sum(amount_minor) AS total FROM ledger_holds
                   WHERE status = 'pending' GROUP BY 1) h USING (account_id)
      GROUP BY b.account_id HAVING sum(b.held_minor) <> coalesce(max(h.total), 0) LIMIT ${LIMIT}`,
  );
  for (const r of held.rows)
    violations.push({
      invariant: 'held_equals_pending_holds',
      detail: `account ${r.account_id}: held ${r.held}, pending holds ${r.holds}`,
    });

  // 4. no account that must not go negative is negative (available, on its normal side)
  const negative = await db.query<{ account_id: string; available: string }>(
    `SELECT account_id, sum(normal_side * balance_minor - held_minor)::text AS available FROM ledger_balances
      WHERE must_not_go_negative GROUP BY account_id
     HAVING sum(normal_side * balance_minor - held_minor) < 0 LIMIT ${LIMIT}`,
  );
  for (const r of negative.rows)
    violations.push({
      invariant: 'non_negative',
      detail: `account ${r.account_id} available ${r.available}`,
    });

  // 5. escrow = paid - released - refunded per project (the orders' view equals the ledger's)
  const hasEscrow = await db.query<{ present: boolean }>(
    `SELECT to_regclass('escrow_orders') IS NOT NULL AS present`,
  );
  if (opts.escrow !== false && hasEscrow.rows[0]?.present) {
    await count('escrow_orders', 'SELECT count(*) AS n FROM escrow_orders');
    const escrow = await db.query<{
      operator_id: string;
      project_id: string;
      currency: string;
      orders: string;
      ledger: string;
      bad_orders: string;
    }>(
      `WITH orders AS (
         SELECT operator_id, project_id, currency,
                sum(paid_minor - released_minor - refunded_minor) AS held,
                count(*) FILTER (WHERE held_minor <> paid_minor - released_minor - refunded_minor
                                    OR held_minor < 0) AS bad
           FROM escrow_orders GROUP BY 1, 2, 3),
       ledger AS (
         SELECT a.operator_id, a.project_id, a.currency, sum(-b.balance_minor) AS held
           FROM ledger_accounts a JOIN ledger_balances b USING (account_id)
          WHERE a.kind = 2 GROUP BY 1, 2, 3)
       SELECT coalesce(o.operator_id, l.operator_id) AS operator_id,
              coalesce(o.project_id, l.project_id) AS project_id,
              coalesce(o.currency, l.currency) AS currency,
              coalesce(o.held, 0)::text AS orders, coalesce(l.held, 0)::text AS ledger,
              coalesce(o.bad, 0)::text AS bad_orders
         FROM orders o FULL JOIN ledger l USING (operator_id, project_id, currency)
        WHERE coalesce(o.held, 0) <> coalesce(l.held, 0) OR coalesce(o.bad, 0) > 0
        LIMIT ${LIMIT}`,
    );
    for (const r of escrow.rows)
      violations.push({
        invariant: 'escrow_equals_paid_minus_released_minus_refunded',
        detail:
          `project ${r.operator_id}/${r.project_id} ${r.currency}: orders hold ${r.orders}, escrow account ` +
          `${r.ledger}, ${r.bad_orders} orders whose held is not paid - released - refunded`,
      });
  }

  // 6. points clearing nets to zero over the city per currency, and each clearing account equals its
  //    open obligations (owed to it minus owed by it; docs/settlement-points.md)
  const clearingNet = await db.query<{ currency: string; net: string }>(
    `SELECT a.currency, sum(b.balance_minor)::text AS net
       FROM ledger_accounts a JOIN ledger_balances b USING (account_id)
      WHERE a.kind = 11 GROUP BY a.currency HAVING sum(b.balance_minor) <> 0 LIMIT ${LIMIT}`,
  );
  for (const r of clearingNet.rows)
    violations.push({
      invariant: 'points_clearing_nets_to_zero',
      detail: `points clearing accounts in ${r.currency} sum to ${r.net}, not 0`,
    });
  const hasClearing = await db.query<{ present: boolean }>(
    `SELECT to_regclass('points_clearing_obligations') IS NOT NULL AS present`,
  );
  if (hasClearing.rows[0]?.present) {
    await count('points_clearing_obligations', 'SELECT count(*) AS n FROM points_clearing_obligations');
    const open = await db.query<{
      operator_id: string;
      project_id: string;
      currency: string;
      obligations: string;
      ledger: string;
    }>(
      `WITH open AS (
         SELECT operator_id, project_id, currency, sum(amount) AS net FROM (
           SELECT creditor_operator_id AS operator_id, creditor_project_id AS project_id, currency, amount_minor AS amount
             FROM points_clearing_obligations WHERE status = 'open'
           UNION ALL
           SELECT debtor_operator_id, debtor_project_id, currency, -amount_minor
             FROM points_clearing_obligations WHERE status = 'open') o
          GROUP BY 1, 2, 3),
       ledger AS (
         SELECT a.operator_id, a.project_id, a.currency, sum(b.balance_minor) AS net
           FROM ledger_accounts a JOIN ledger_balances b USING (account_id)
          WHERE a.kind = 11 GROUP BY 1, 2, 3)
       SELECT coalesce(o.operator_id, l.operator_id) AS operator_id,
              coalesce(o.project_id, l.project_id) AS project_id,
              coalesce(o.currency, l.currency) AS currency,
              coalesce(o.net, 0)::text AS obligations, coalesce(l.net, 0)::text AS ledger
         FROM open o FULL JOIN ledger l USING (operator_id, project_id, currency)
        WHERE coalesce(o.net, 0) <> coalesce(l.net, 0)
        LIMIT ${LIMIT}`,
    );
    for (const r of open.rows)
      violations.push({
        invariant: 'points_clearing_equals_open_obligations',
        detail:
          `points clearing ${r.operator_id}/${r.project_id} ${r.currency}: open obligations net ` +
          `${r.obligations}, account ${r.ledger}`,
      });
  }

  // 7. checkouts (docs/settlement-checkout.md): a checkout order's coupon and points parts are the
  //    parts its checkout took from the places' payables (each once), less nothing; what checkout
  //    refunds gave back of them is what the applied checkout refunds named
  const hasCheckouts = await db.query<{ present: boolean }>(
    `SELECT to_regclass('redeemed_parts') IS NOT NULL AS present`,
  );
  if (hasCheckouts.rows[0]?.present) {
    await count('checkouts', 'SELECT count(*) AS n FROM checkouts');
    const parts = await db.query<{
      order_id: string;
      what: string;
      order_minor: string;
      parts_minor: string;
    }>(
      `WITH taken AS (
         SELECT c.order_id,
                coalesce(sum(p.amount_minor) FILTER (WHERE p.source = 'coupon' AND p.claim_tx_id IS NOT NULL), 0) AS discount,
                coalesce(sum(p.amount_minor) FILTER (WHERE p.source = 'points' AND p.claim_tx_id IS NOT NULL), 0) AS points,
                coalesce(sum(e.amount_minor) FILTER (WHERE p.claim_tx_id IS NOT NULL), 0) AS escrowed
           FROM checkouts c
           LEFT JOIN redeemed_parts p ON p.checkout_id = c.checkout_id
           LEFT JOIN ledger_entries e ON e.tx_id = p.claim_tx_id AND e.amount_minor < 0
          GROUP BY c.order_id),
       given AS (
         SELECT c.order_id, coalesce(sum(r.discount_minor), 0) AS discount, coalesce(sum(r.points_value_minor), 0) AS points
           FROM checkouts c JOIN checkout_refunds r ON r.checkout_id = c.checkout_id AND r.status = 'applied'
          GROUP BY c.order_id)
       SELECT o.order_id, w.what, w.order_minor::text, w.parts_minor::text
         FROM escrow_orders o
         LEFT JOIN taken t ON t.order_id = o.order_id
         LEFT JOIN given g ON g.order_id = o.order_id,
         LATERAL (VALUES ('discount', o.discount_minor, coalesce(t.discount, 0)),
                         ('points', o.points_minor, coalesce(t.points, 0)),
                         ('escrowed', o.discount_minor + o.points_minor, -coalesce(t.escrowed, 0)),
                         ('discount refunded', o.discount_refunded_minor, coalesce(g.discount, 0)),
                         ('points refunded', o.points_refunded_minor, coalesce(g.points, 0)))
                 AS w(what, order_minor, parts_minor)
        WHERE w.order_minor <> w.parts_minor
        LIMIT ${LIMIT}`,
    );
    for (const r of parts.rows)
      violations.push({
        invariant: 'checkout_parts_equal_taken',
        detail: `order ${r.order_id} ${r.what}: order ${r.order_minor}, checkout parts ${r.parts_minor}`,
      });
    const twice = await db.query<{ source: string; source_id: string }>(
      `SELECT source, source_id FROM redeemed_parts
        WHERE claim_tx_id IS NOT NULL AND rollback_tx_id IS NOT NULL LIMIT ${LIMIT}`,
    );
    for (const r of twice.rows)
      violations.push({
        invariant: 'checkout_parts_equal_taken',
        detail: `${r.source} ${r.source_id} went into a checkout's order and was also rolled back`,
      });
  }

  return { ok: violations.length === 0, checked, violations };
}
