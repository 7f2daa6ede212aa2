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
 *   - per account: the history's pending and debt deltas sum to Σ remaining of its pending lots and
 *     to its debt;
 *   - per budget node: issued = Σ amounts of the original lots charged to it (not TRANSFER_IN lots,
 *     which carry units of an original lot and its budget) minus what reversals took from them, redeemed and expired = the units its lots gave to confirmations and expiries; and
 *     checkBudgetInvariants (the hierarchy within its allotments);
 *   - per earning (payment): its lot's amount = points earned - debt it paid off; what refunds took
 *     from lots plus the debt they recorded plus what its lot's expiry had already removed
 *     (expired_absorbed, never more than the lot's expired units) <= reversed <= points (equal under
 *     policy DEBT): a payment never loses more than it earned;
 *   - households: every member row's household is a household account, and only household
 *     accounts have lots attributed to a member;
 *   - per transfer: its TRANSFER_OUT and TRANSFER_IN entries net to 0, and each TRANSFER_IN lot's
 *     amount is what the transfer took from its source lot, with the source's budget, issuer and
 *     expiry;
 *   - returns (checkout refunds): each RETURNED lot has the issuer, budget and account of the lot its
 *     reservation spent, its entry is that refund's RETURNED entry, a reservation's returns give
 *     back at most what the confirmation took from each lot, a RETURNED entry's points = its lots;
 *     budgets' redeemed counts the returned units out;
 *   - clearing: per confirmed reservation and issuer other than where it was redeemed (operator or
 *     project), one obligation for exactly the units the confirmation took from that issuer's lots,
 *     and no other obligations; per currency, Σ over operators (credited − debited) = 0.
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
    'account pending or debt differs from its history',
    `SELECT a.account_id, a.debt, coalesce(l.pending, 0) AS pending, coalesce(e.pending, 0) AS pending_deltas,
            coalesce(e.debt, 0) AS debt_deltas
       FROM accounts a
       LEFT JOIN (SELECT account_id, sum(remaining) AS pending FROM lots WHERE status = 1 GROUP BY account_id) l
         USING (account_id)
       LEFT JOIN (SELECT account_id, sum(pending_delta) AS pending, sum(debt_delta) AS debt
                    FROM points_entries GROUP BY account_id) e USING (account_id)
      WHERE coalesce(l.pending, 0) <> coalesce(e.pending, 0) OR a.debt <> coalesce(e.debt, 0)`,
  );
  await check(
    'earning differs from its lot or its reversals',
    `SELECT er.payment_id, er.points, er.debt_repaid, er.reversed, er.expired_absorbed, lo.amount,
            p.shortfall_policy, coalesce(r.taken, 0) AS taken, coalesce(d.debt, 0) AS debt,
            coalesce(x.expired, 0) AS lot_expired
       FROM earnings er
       JOIN programmes p ON p.operator_id = er.operator_id
       LEFT JOIN lots lo ON lo.lot_id = er.lot_id
       LEFT JOIN (SELECT e.reference, e.account_id, sum(-el.remaining_delta) AS taken
                    FROM points_entries e JOIN entry_lots el USING (entry_id)
                   WHERE e.kind = 8 GROUP BY e.reference, e.account_id) r
         ON r.reference = er.payment_id AND r.account_id = er.account_id
       LEFT JOIN (SELECT reference, account_id, sum(debt_delta) AS debt FROM points_entries
                   WHERE kind = 9 GROUP BY reference, account_id) d
         ON d.reference = er.payment_id AND d.account_id = er.account_id
       LEFT JOIN (SELECT el.lot_id, sum(-el.remaining_delta) AS expired
                    FROM points_entries e JOIN entry_lots el USING (entry_id)
                   WHERE e.kind = 11 GROUP BY el.lot_id) x
         ON x.lot_id = er.lot_id
      WHERE coalesce(lo.amount, 0) <> er.points - er.debt_repaid
         OR er.reversed > er.points
         OR er.expired_absorbed > coalesce(lo.remaining - lo.held, 0) + coalesce(x.expired, 0)
         OR coalesce(r.taken, 0) + coalesce(d.debt, 0) + er.expired_absorbed > er.reversed
         OR (p.shortfall_policy = 'DEBT'
             AND coalesce(r.taken, 0) + coalesce(d.debt, 0) + er.expired_absorbed <> er.reversed)`,
  );
  await check(
    'earned lot without its earning',
    `SELECT l.lot_id, l.source_ref FROM lots l LEFT JOIN earnings er ON er.lot_id = l.lot_id
      WHERE l.source = 1 AND er.payment_id IS NULL`,
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
            coalesce(u.reversed, 0) AS lots_reversed, coalesce(rt.returned, 0) AS lots_returned,
            coalesce(u.redeemed, 0) AS lots_redeemed, coalesce(u.expired, 0) AS lots_expired
       FROM budgets b
       -- a TRANSFER_IN lot (from_lot_id set) moves units of an original lot: it issues nothing
       LEFT JOIN (SELECT budget_id, sum(amount) AS issued FROM lots WHERE from_lot_id IS NULL GROUP BY budget_id) l
         USING (budget_id)
       LEFT JOIN (SELECT lo.budget_id,
                         coalesce(sum(-el.remaining_delta) FILTER (WHERE e.kind = 8), 0) AS reversed,
                         sum(-el.remaining_delta) FILTER (WHERE e.kind = 5) AS redeemed,
                         sum(-el.remaining_delta) FILTER (WHERE e.kind = 11) AS expired
                    FROM entry_lots el JOIN points_entries e USING (entry_id) JOIN lots lo USING (lot_id)
                   GROUP BY lo.budget_id) u USING (budget_id)
       -- RETURNED lots (source 4) give redeemed units back to the budget they were charged to
       LEFT JOIN (SELECT budget_id, sum(amount) AS returned FROM lots WHERE source = 4 GROUP BY budget_id) rt
         USING (budget_id)
      WHERE b.issued <> coalesce(l.issued, 0) - coalesce(u.reversed, 0)
         OR b.redeemed <> coalesce(u.redeemed, 0) - coalesce(rt.returned, 0)
         OR b.expired <> coalesce(u.expired, 0)`,
  );
  await check(
    'transfer lot differs from what its transfer took from its source lot',
    `SELECT t.lot_id, t.amount, coalesce(o.units, 0) AS taken FROM lots t
       JOIN lots s ON s.lot_id = t.from_lot_id AND t.source = 3
       LEFT JOIN (SELECT e.reference, el.lot_id, sum(-el.remaining_delta) AS units
                    FROM points_entries e JOIN entry_lots el USING (entry_id)
                   WHERE e.kind = 12 GROUP BY e.reference, el.lot_id) o
         ON o.reference = t.source_ref AND o.lot_id = t.from_lot_id
      WHERE t.amount <> coalesce(o.units, 0) OR t.budget_id <> s.budget_id OR t.expires_at <> s.expires_at
         OR t.issuer_operator_id <> s.issuer_operator_id OR t.issuer_project_id <> s.issuer_project_id`,
  );
  await check(
    'transfer out and in differ',
    `SELECT reference, sum(available_delta) AS net FROM points_entries WHERE kind IN (12, 13)
      GROUP BY reference HAVING sum(available_delta) <> 0 OR count(*) <> 2`,
  );
  await check(
    'household member or attribution outside a household',
    `SELECT hm.operator_id, hm.household_id AS holder_id, 'member row' AS what FROM household_members hm
       LEFT JOIN accounts a ON a.operator_id = hm.operator_id AND a.holder_id = hm.household_id
      WHERE a.holder_kind IS DISTINCT FROM 2
     UNION ALL
     SELECT a.operator_id, a.holder_id, 'attributed lot' FROM lots l JOIN accounts a USING (account_id)
      WHERE l.member_id <> '' AND a.holder_kind <> 2`,
  );
  await check(
    'clearing obligations differ from the confirmed lots of other issuers',
    `WITH spent AS (
       SELECT e.reservation_id, l.issuer_operator_id AS debtor_operator_id, l.issuer_project_id AS debtor_project_id,
              sum(-el.remaining_delta) AS points
         FROM points_entries e JOIN entry_lots el USING (entry_id) JOIN lots l USING (lot_id)
         JOIN reservations r ON r.reservation_id = e.reservation_id
        WHERE e.kind = 5
          AND (l.issuer_operator_id <> r.redeemed_operator_id OR l.issuer_project_id <> r.redeemed_project_id)
        GROUP BY 1, 2, 3)
     SELECT coalesce(s.reservation_id, o.reservation_id) AS reservation_id,
            coalesce(s.debtor_operator_id, o.debtor_operator_id) AS debtor_operator_id,
            coalesce(s.debtor_project_id, o.debtor_project_id) AS debtor_project_id,
            s.points AS spent, o.points AS obliged
       FROM spent s FULL JOIN clearing_obligations o
         ON o.reservation_id = s.reservation_id AND o.debtor_operator_id = s.debtor_operator_id
        AND o.debtor_project_id = s.debtor_project_id
      WHERE s.points IS DISTINCT FROM o.points`,
  );
  await check(
    'clearing obligation does not match its reservation',
    `SELECT o.obligation_id, r.status FROM clearing_obligations o JOIN reservations r USING (reservation_id)
      WHERE r.status <> 2 OR o.creditor_operator_id <> r.redeemed_operator_id
         OR o.creditor_project_id <> r.redeemed_project_id OR o.creditor_merchant_id <> r.redeemed_merchant_id`,
  );
  await check(
    'clearing does not net to zero over the operators',
    `SELECT currency, sum(net) AS net FROM (
       SELECT currency, creditor_operator_id AS operator_id, sum(amount_minor) AS net FROM clearing_obligations GROUP BY 1, 2
       UNION ALL
       SELECT currency, debtor_operator_id, -sum(amount_minor) FROM clearing_obligations GROUP BY 1, 2) n
      GROUP BY currency HAVING sum(net) <> 0`,
  );
  await check(
    'returned lot differs from the lot its reservation spent',
    `SELECT t.lot_id, t.amount, t.source_ref FROM lots t
       JOIN lots s ON s.lot_id = t.from_lot_id
       JOIN points_entries re ON re.entry_id = t.entry_id
      WHERE t.source = 4
        AND (re.kind <> 14 OR re.reference <> t.source_ref OR t.budget_id <> s.budget_id
             OR t.issuer_operator_id <> s.issuer_operator_id OR t.issuer_project_id <> s.issuer_project_id
             OR t.account_id <> s.account_id OR t.status <> 2)`,
  );
  await check(
    'returns give back more than the reservation spent',
    `WITH spent AS (
       SELECT e.reservation_id, el.lot_id, -el.remaining_delta AS units
         FROM points_entries e JOIN entry_lots el USING (entry_id) WHERE e.kind = 5),
     back AS (
       SELECT re.reservation_id, t.from_lot_id AS lot_id, sum(t.amount) AS units
         FROM lots t JOIN points_entries re ON re.entry_id = t.entry_id
        WHERE t.source = 4 GROUP BY 1, 2)
     SELECT b.reservation_id, b.lot_id, b.units AS returned, s.units AS spent
       FROM back b LEFT JOIN spent s USING (reservation_id, lot_id)
      WHERE s.units IS NULL OR b.units > s.units`,
  );
  await check(
    'return entry differs from its lots',
    `SELECT e.entry_id, e.available_delta, coalesce(sum(t.amount), 0) AS lots FROM points_entries e
       LEFT JOIN lots t ON t.entry_id = e.entry_id
      WHERE e.kind = 14 GROUP BY e.entry_id, e.available_delta, e.reservation_id
     HAVING e.available_delta <> coalesce(sum(t.amount), 0) OR e.reservation_id IS NULL`,
  );
  found.push(...(await checkBudgetInvariants(pool as Pool)).violations);
  return found;
}
