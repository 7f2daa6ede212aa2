import type { Pool, PoolClient } from 'pg';
import { checkBudgetInvariants } from './budget-invariants';

/**
 * The accounts' invariants (docs/points.md "Invariants"), recomputed from the rows and the
 * append-only history. Returns every violation found (empty when all hold):
 *   - per lot: 0 <= held <= remaining <= amount; held = Σ units of its HELD reservations;
 *     remaining = amount + Σ its entry_lots remaining deltas; held = Σ its entry_lots held deltas;
 *   - per account: available = Σ (remaining - held) over available unexpired lots >= 0; the
 *     history's available and reserved deltas sum to Σ (remaining - held) and Σ held over its
 *     available lots;
 *   - per reservation: ended at most once (one confirmed, cancelled or expired entry), and exactly
 *     once when it is no longer held; its units allocated to lots equal its points;
 *   - per budget node: issued = Σ amounts of the lots charged to it (no reversals yet), redeemed and
 *     expired = the units its lots gave to confirmations and expiries; and checkBudgetInvariants
 *     (the hierarchy within its allotments).
 */
export async function checkPointsInvariants(pool: Pool | PoolClient): Promise<string[]> {
  const found: string[] = [];
  const check = async (what: string, sql: string) => {
    const { rows } = await pool.query<Record<string, unknown>>(sql);
    for (const r of rows)
      found.push(
        `${what}: ${JSON.stringify(r, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v))}`,
      );
  };
  await check(
    'lot out of bounds',
    `SELECT lot_id, amount, remaining, held FROM lots WHERE NOT (0 <= held AND held <= remaining AND remaining <= amount)`,
  );
  await check(
    'lot held differs from its held reservations',
    `SELECT l.lot_id, l.held, coalesce(h.units, 0) AS reserved FROM lots l
       LEFT JOIN (SELECT rl.lot_id, sum(rl.units) AS units FROM reservation_lots rl
                    JOIN reservations r USING (reservation_id) WHERE r.status = 1 GROUP BY rl.lot_id) h USING (lot_id)
      WHERE l.held <> coalesce(h.units, 0)`,
  );
  await check(
    'lot differs from its history',
    `SELECT l.lot_id, l.amount, l.remaining, l.held, coalesce(d.remaining, 0) AS remaining_deltas, coalesce(d.held, 0) AS held_deltas
       FROM lots l LEFT JOIN (SELECT lot_id, sum(remaining_delta) AS remaining, sum(held_delta) AS held
                                FROM entry_lots GROUP BY lot_id) d USING (lot_id)
      WHERE l.remaining <> l.amount + coalesce(d.remaining, 0) OR l.held <> coalesce(d.held, 0)`,
  );
  await check(
    'negative available balance',
    `SELECT account_id, sum(remaining - held) AS available FROM lots
      WHERE status = 2 AND expires_at > now() GROUP BY account_id HAVING sum(remaining - held) < 0`,
  );
  await check(
    'account differs from its history',
    `SELECT a.account_id, coalesce(l.free, 0) AS free, coalesce(l.held, 0) AS held,
            coalesce(e.available, 0) AS available_deltas, coalesce(e.reserved, 0) AS reserved_deltas
       FROM accounts a
       LEFT JOIN (SELECT account_id, sum(remaining - held) AS free, sum(held) AS held FROM lots
                   WHERE status = 2 GROUP BY account_id) l USING (account_id)
       LEFT JOIN (SELECT account_id, sum(available_delta) AS available, sum(reserved_delta) AS reserved
                    FROM points_entries GROUP BY account_id) e USING (account_id)
      WHERE coalesce(l.free, 0) <> coalesce(e.available, 0) OR coalesce(l.held, 0) <> coalesce(e.reserved, 0)`,
  );
  await check(
    'reservation ended other than once',
    `SELECT r.reservation_id, r.status, count(e.entry_id) AS ends FROM reservations r
       LEFT JOIN points_entries e ON e.reservation_id = r.reservation_id AND e.kind IN (5, 6, 7)
      GROUP BY r.reservation_id, r.status
     HAVING count(e.entry_id) <> CASE WHEN r.status = 1 THEN 0 ELSE 1 END`,
  );
  await check(
    'held reservation not covered by its lots',
    `SELECT r.reservation_id, r.points, coalesce(sum(rl.units), 0) AS units FROM reservations r
       LEFT JOIN reservation_lots rl USING (reservation_id)
      GROUP BY r.reservation_id, r.points HAVING r.points <> coalesce(sum(rl.units), 0)`,
  );
  await check(
    'budget totals differ from the lots charged to it',
    `SELECT b.budget_id, b.issued, b.redeemed, b.expired, coalesce(l.issued, 0) AS lots_issued,
            coalesce(u.redeemed, 0) AS lots_redeemed, coalesce(u.expired, 0) AS lots_expired
       FROM budgets b
       LEFT JOIN (SELECT budget_id, sum(amount) AS issued FROM lots GROUP BY budget_id) l USING (budget_id)
       LEFT JOIN (SELECT lo.budget_id,
                         sum(-el.remaining_delta) FILTER (WHERE e.kind = 5) AS redeemed,
                         sum(-el.remaining_delta) FILTER (WHERE e.kind = 11) AS expired
                    FROM entry_lots el JOIN points_entries e USING (entry_id) JOIN lots lo USING (lot_id)
                   GROUP BY lo.budget_id) u USING (budget_id)
      WHERE b.issued <> coalesce(l.issued, 0) OR b.redeemed <> coalesce(u.redeemed, 0)
         OR b.expired <> coalesce(u.expired, 0)`,
  );
  found.push(...(await checkBudgetInvariants(pool as Pool)).violations);
  return found;
}
