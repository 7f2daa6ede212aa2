-- Group commit (docs/adr/0006-settlement-ledger.md "Group commit"): one INSERT may carry the entries
-- of many postings, so the entry trigger becomes a statement-level trigger that moves each balance
-- row once per statement instead of once per entry. Every rule of 0002 stays:
--   * an entry needs its balance row (same account, shard and currency), else foreign_key_violation;
--   * balances still move only inside this trigger (ledger_balances_guard is unchanged);
--   * a never-negative account moves entry by entry, in entry order, so its CHECK sees every
--     balance the entries pass through (the same outcome as applying the postings one by one);
--   * the zero-sum constraint trigger (per transaction and currency, at commit) is unchanged.
DROP TRIGGER ledger_entries_apply ON ledger_entries;
DROP FUNCTION ledger_apply_entry();

CREATE FUNCTION ledger_apply_entries() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  groups int;
  moved int;
  bad record;
  e record;
BEGIN
  -- the rows this statement moves, locked in one order for every statement: no deadlocks
  PERFORM 1 FROM ledger_balances b
    JOIN (SELECT DISTINCT account_id, shard FROM added) d
      ON b.account_id = d.account_id AND b.shard = d.shard
   ORDER BY b.account_id, b.shard
     FOR NO KEY UPDATE OF b;
  -- accounts that may go negative: each balance row once, by the sum of its entries
  WITH d AS (SELECT account_id, shard, currency, sum(amount_minor) AS total, max(posted_at) AS last_at
               FROM added GROUP BY account_id, shard, currency),
       moved AS (
         UPDATE ledger_balances b
            SET balance_minor = b.balance_minor + d.total,
                last_entry_at = d.last_at
           FROM d
          WHERE b.account_id = d.account_id AND b.shard = d.shard AND b.currency = d.currency
            AND NOT b.must_not_go_negative
         RETURNING 1)
  SELECT (SELECT count(*) FROM d), (SELECT count(*) FROM moved) INTO groups, moved;
  IF moved = groups THEN
    RETURN NULL;
  END IF;
  -- some balance rows are never-negative accounts' or missing
  SELECT a.tx_id, a.account_id, a.shard, a.currency INTO bad
    FROM added a
   WHERE NOT EXISTS (SELECT 1 FROM ledger_balances b
                      WHERE b.account_id = a.account_id AND b.shard = a.shard AND b.currency = a.currency)
   LIMIT 1;
  IF FOUND THEN
    RAISE EXCEPTION 'entry of tx % for account % shard % in %: no such balance row (wrong shard or currency)',
      bad.tx_id, bad.account_id, bad.shard, bad.currency USING ERRCODE = 'foreign_key_violation';
  END IF;
  -- never-negative accounts: entry by entry, in entry order (CHECK ledger_balance_not_negative at
  -- every step)
  FOR e IN SELECT a.account_id, a.shard, a.currency, a.amount_minor, a.posted_at
             FROM added a JOIN ledger_balances b
               ON b.account_id = a.account_id AND b.shard = a.shard AND b.currency = a.currency
            WHERE b.must_not_go_negative
            ORDER BY a.entry_id LOOP
    UPDATE ledger_balances
       SET balance_minor = balance_minor + e.amount_minor,
           last_entry_at = e.posted_at
     WHERE account_id = e.account_id AND shard = e.shard AND currency = e.currency;
  END LOOP;
  RETURN NULL;
END $$;
CREATE TRIGGER ledger_entries_apply AFTER INSERT ON ledger_entries
  REFERENCING NEW TABLE AS added
  FOR EACH STATEMENT EXECUTE FUNCTION ledger_apply_entries();
