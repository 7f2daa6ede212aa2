-- idempotency_keys moved to the platform's migration 0003 (one definition for every service).
-- replaces-checksum: 29ae0a0a505e7af4adb5ecb1c7ff51f97dd7a3cb5a0c7ca97496a928fe05085e
-- Double-entry ledger (docs/adr/0006-settlement-ledger.md). The database itself enforces the rules,
-- so no code path can break them:
--   * entries and transactions are append-only (triggers refuse UPDATE, DELETE and TRUNCATE);
--   * the entries of a transaction sum to zero per currency (deferred constraint trigger, at commit);
--   * an entry's currency is its account's;
--   * balances change only through entries (the entry trigger updates them; a direct UPDATE of a
--     balance is refused) and in the same transaction;
--   * an account that must not go negative cannot: CHECK on its balance row, so concurrent debits
--     serialise on the row and the loser fails with check_violation (-> INSUFFICIENT_FUNDS).
-- Amounts are signed, debit positive. A credit-normal account (normal_side = -1, e.g. a wallet)
-- grows with credits; its balance on its normal side is normal_side * balance_minor.
-- Hot accounts are split into `shards` balance rows; a posting picks one, the balance is their sum.

CREATE TABLE ledger_accounts (
  account_id           uuid        PRIMARY KEY,
  kind                 smallint    NOT NULL CHECK (kind BETWEEN 1 AND 10),
  operator_id          text        NOT NULL DEFAULT '',
  project_id           text        NOT NULL DEFAULT '',
  merchant_id          text        NOT NULL DEFAULT '',
  owner_ref            text        NOT NULL DEFAULT '',
  currency             char(3)     NOT NULL,
  normal_side          smallint    NOT NULL CHECK (normal_side IN (1, -1)),
  must_not_go_negative boolean     NOT NULL,
  shards               smallint    NOT NULL CHECK (shards BETWEEN 1 AND 64),
  created_at           timestamptz NOT NULL DEFAULT clock_timestamp(),
  UNIQUE (kind, operator_id, project_id, merchant_id, owner_ref, currency),
  -- a non-negative account is one row, so its check sees the whole balance
  CHECK (NOT must_not_go_negative OR shards = 1)
);
CREATE INDEX ledger_accounts_tenancy ON ledger_accounts (operator_id, project_id, kind, account_id);

CREATE TABLE ledger_balances (
  account_id           uuid        NOT NULL REFERENCES ledger_accounts,
  shard                smallint    NOT NULL,
  normal_side          smallint    NOT NULL,
  must_not_go_negative boolean     NOT NULL,
  currency             char(3)     NOT NULL,
  -- sum of this shard's entries, debit positive
  balance_minor        bigint      NOT NULL DEFAULT 0,
  -- reserved by pending holds (holds are placed on shard 0 of single-shard accounts)
  held_minor           bigint      NOT NULL DEFAULT 0 CHECK (held_minor >= 0),
  last_entry_at        timestamptz,
  PRIMARY KEY (account_id, shard),
  CONSTRAINT ledger_balance_not_negative
    CHECK (NOT must_not_go_negative OR normal_side * balance_minor - held_minor >= 0)
);

CREATE TABLE ledger_transactions (
  tx_id           uuid        PRIMARY KEY,
  kind            text        NOT NULL,
  -- one transaction per business fact, e.g. "payment:<id>:escrow"
  idempotency_key text        NOT NULL UNIQUE,
  operator_id     text        NOT NULL DEFAULT '',
  project_id      text        NOT NULL DEFAULT '',
  reference       text        NOT NULL DEFAULT '',
  -- a transaction is reversed at most once
  reverses_tx_id  uuid        UNIQUE REFERENCES ledger_transactions,
  posted_at       timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX ledger_transactions_reference ON ledger_transactions (reference);

CREATE TABLE ledger_entries (
  entry_id     bigserial   PRIMARY KEY,
  tx_id        uuid        NOT NULL REFERENCES ledger_transactions,
  account_id   uuid        NOT NULL REFERENCES ledger_accounts,
  shard        smallint    NOT NULL,
  currency     char(3)     NOT NULL,
  amount_minor bigint      NOT NULL CHECK (amount_minor <> 0),
  posted_at    timestamptz NOT NULL
);
CREATE INDEX ledger_entries_account ON ledger_entries (account_id, entry_id);
CREATE INDEX ledger_entries_tx ON ledger_entries (tx_id);

CREATE TABLE ledger_holds (
  hold_id         uuid        PRIMARY KEY,
  account_id      uuid        NOT NULL REFERENCES ledger_accounts,
  idempotency_key text        NOT NULL UNIQUE,
  reference       text        NOT NULL DEFAULT '',
  amount_minor    bigint      NOT NULL CHECK (amount_minor > 0),
  posted_minor    bigint      NOT NULL DEFAULT 0,
  status          text        NOT NULL CHECK (status IN ('pending', 'posted', 'partially_posted', 'voided', 'expired')),
  -- the transaction that posted it
  tx_id           uuid        REFERENCES ledger_transactions,
  expires_at      timestamptz NOT NULL,
  created_at      timestamptz NOT NULL DEFAULT clock_timestamp(),
  updated_at      timestamptz NOT NULL DEFAULT clock_timestamp(),
  CHECK (posted_minor >= 0 AND posted_minor <= amount_minor)
);
CREATE INDEX ledger_holds_pending ON ledger_holds (expires_at) WHERE status = 'pending';
CREATE INDEX ledger_holds_account ON ledger_holds (account_id) WHERE status = 'pending';

-- append-only
CREATE FUNCTION ledger_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION '% is append-only: correct by a reversing transaction', TG_TABLE_NAME
    USING ERRCODE = 'restrict_violation';
END $$;
CREATE TRIGGER ledger_entries_append_only BEFORE UPDATE OR DELETE ON ledger_entries
  FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change();
CREATE TRIGGER ledger_entries_no_truncate BEFORE TRUNCATE ON ledger_entries
  FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_change();
CREATE TRIGGER ledger_transactions_append_only BEFORE UPDATE OR DELETE ON ledger_transactions
  FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change();
CREATE TRIGGER ledger_transactions_no_truncate BEFORE TRUNCATE ON ledger_transactions
  FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_change();

-- an entry moves its balance row, in the same statement
CREATE FUNCTION ledger_apply_entry() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE ledger_balances
     SET balance_minor = balance_minor + NEW.amount_minor,
         last_entry_at = NEW.posted_at
   WHERE account_id = NEW.account_id AND shard = NEW.shard AND currency = NEW.currency;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'entry of tx % for account % shard % in %: no such balance row (wrong shard or currency)',
      NEW.tx_id, NEW.account_id, NEW.shard, NEW.currency USING ERRCODE = 'foreign_key_violation';
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER ledger_entries_apply AFTER INSERT ON ledger_entries
  FOR EACH ROW EXECUTE FUNCTION ledger_apply_entry();

-- balances move only with entries (the entry trigger runs at trigger depth 1, so this one at 2)
CREATE FUNCTION ledger_guard_balance() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' THEN
    RAISE EXCEPTION 'ledger_balances rows are never deleted' USING ERRCODE = 'restrict_violation';
  END IF;
  IF NEW.balance_minor IS DISTINCT FROM OLD.balance_minor AND pg_trigger_depth() < 2 THEN
    RAISE EXCEPTION 'a balance changes only through ledger entries' USING ERRCODE = 'restrict_violation';
  END IF;
  IF (NEW.account_id, NEW.shard, NEW.normal_side, NEW.must_not_go_negative, NEW.currency)
     IS DISTINCT FROM (OLD.account_id, OLD.shard, OLD.normal_side, OLD.must_not_go_negative, OLD.currency) THEN
    RAISE EXCEPTION 'a balance row''s account is fixed' USING ERRCODE = 'restrict_violation';
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER ledger_balances_guard BEFORE UPDATE OR DELETE ON ledger_balances
  FOR EACH ROW EXECUTE FUNCTION ledger_guard_balance();

-- a new balance row starts at zero
CREATE FUNCTION ledger_new_balance_zero() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.balance_minor <> 0 OR NEW.held_minor <> 0 THEN
    RAISE EXCEPTION 'a balance row starts at zero' USING ERRCODE = 'restrict_violation';
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER ledger_balances_start_zero BEFORE INSERT ON ledger_balances
  FOR EACH ROW EXECUTE FUNCTION ledger_new_balance_zero();

-- the entries of a transaction sum to zero per currency, checked when the transaction commits
CREATE FUNCTION ledger_check_zero_sum() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  unbalanced record;
BEGIN
  SELECT currency, sum(amount_minor) AS total INTO unbalanced
    FROM ledger_entries WHERE tx_id = NEW.tx_id
   GROUP BY currency HAVING sum(amount_minor) <> 0 LIMIT 1;
  IF FOUND THEN
    RAISE EXCEPTION 'ledger transaction % does not balance: % % left over', NEW.tx_id, unbalanced.total,
      unbalanced.currency USING ERRCODE = 'check_violation', CONSTRAINT = 'ledger_transaction_zero_sum';
  END IF;
  RETURN NULL;
END $$;
CREATE CONSTRAINT TRIGGER ledger_entries_zero_sum AFTER INSERT ON ledger_entries
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION ledger_check_zero_sum();
