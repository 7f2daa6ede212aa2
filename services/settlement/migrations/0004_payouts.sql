-- Payouts, resident wallets and channel statement reconciliation (docs/settlement-payouts.md).
-- Money moves only through the ledger (0002_ledger.sql): a payout is a ledger hold on the account it
-- pays from, posted to the operator's bank account when the bank confirms, voided when it fails and
-- expired when nobody answers in time. These tables hold the business side of it.

-- One settlement cycle of a project (RunPayoutCycle): one payout per merchant with money to pay.
CREATE TABLE payout_batches (
  batch_id    uuid        PRIMARY KEY,
  operator_id text        NOT NULL,
  project_id  text        NOT NULL,
  currency    char(3)     NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT clock_timestamp()
);

-- A merchant payout (batch_id set) or a wallet withdrawal (batch_id NULL).
CREATE TABLE payouts (
  payout_id      uuid        PRIMARY KEY,
  batch_id       uuid        REFERENCES payout_batches,
  operator_id    text        NOT NULL,
  project_id     text        NOT NULL DEFAULT '',
  merchant_id    text        NOT NULL DEFAULT '',
  -- the resident of a wallet withdrawal
  owner_ref      text        NOT NULL DEFAULT '',
  account_id     uuid        NOT NULL REFERENCES ledger_accounts,
  account_kind   smallint    NOT NULL,
  currency       char(3)     NOT NULL,
  amount_minor   bigint      NOT NULL CHECK (amount_minor > 0),
  -- PayoutStatus: 1 pending, 2 paid, 3 failed, 4 expired
  status         smallint    NOT NULL CHECK (status BETWEEN 1 AND 4),
  hold_id        uuid        NOT NULL UNIQUE REFERENCES ledger_holds,
  -- masked (last four characters); the account in clear is never stored
  bank_account   text        NOT NULL DEFAULT '',
  bank_reference text        NOT NULL DEFAULT '',
  failure_reason text        NOT NULL DEFAULT '',
  -- the ledger transaction that paid it
  tx_id          uuid        REFERENCES ledger_transactions,
  created_at     timestamptz NOT NULL DEFAULT clock_timestamp(),
  expires_at     timestamptz NOT NULL,
  settled_at     timestamptz,
  CHECK ((status = 1) = (settled_at IS NULL)),
  CHECK ((status = 2) = (tx_id IS NOT NULL))
);
CREATE INDEX payouts_due ON payouts (expires_at) WHERE status = 1;
CREATE INDEX payouts_tenancy ON payouts (operator_id, project_id, created_at DESC, payout_id DESC);
CREATE INDEX payouts_batch ON payouts (batch_id) WHERE batch_id IS NOT NULL;

-- Property fee bills paid from wallets; a bill is paid once.
CREATE TABLE wallet_fee_payments (
  fee_payment_id uuid        PRIMARY KEY,
  operator_id    text        NOT NULL,
  project_id     text        NOT NULL,
  owner_ref      text        NOT NULL,
  bill_ref       text        NOT NULL,
  currency       char(3)     NOT NULL,
  amount_minor   bigint      NOT NULL CHECK (amount_minor > 0),
  tx_id          uuid        NOT NULL REFERENCES ledger_transactions,
  created_at     timestamptz NOT NULL DEFAULT clock_timestamp(),
  UNIQUE (operator_id, project_id, bill_ref)
);

-- One import of a channel's daily statement and what matching it against the ledger found. Importing
-- a day again makes a new report; the latest of a (project, channel, day) is the one that counts.
CREATE TABLE reconciliation_reports (
  report_id          uuid        PRIMARY KEY,
  operator_id        text        NOT NULL,
  project_id         text        NOT NULL,
  channel_id         text        NOT NULL,
  day                date        NOT NULL,
  currency           char(3)     NOT NULL,
  statement_lines    integer     NOT NULL,
  ledger_postings    integer     NOT NULL,
  matched_one_to_one integer     NOT NULL,
  matched_one_to_many integer    NOT NULL,
  matched_many_to_one integer    NOT NULL,
  -- net: payments minus refunds
  statement_total    bigint      NOT NULL,
  ledger_total       bigint      NOT NULL,
  fees               bigint      NOT NULL,
  created_at         timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX reconciliation_reports_day
  ON reconciliation_reports (operator_id, project_id, channel_id, day, created_at DESC);

CREATE TABLE reconciliation_statement_lines (
  report_id      uuid        NOT NULL REFERENCES reconciliation_reports,
  line_no        integer     NOT NULL,
  kind           text        NOT NULL CHECK (kind IN ('PAYMENT', 'REFUND')),
  transaction_id text        NOT NULL,
  out_trade_no   text        NOT NULL,
  out_refund_no  text        NOT NULL,
  amount_minor   bigint      NOT NULL CHECK (amount_minor > 0),
  fee_minor      bigint      NOT NULL CHECK (fee_minor >= 0),
  at             timestamptz NOT NULL,
  PRIMARY KEY (report_id, line_no)
);

CREATE TABLE reconciliation_differences (
  report_id              uuid     NOT NULL REFERENCES reconciliation_reports,
  ordinal                integer  NOT NULL,
  -- ReconciliationIssue: 1 missing, 2 extra, 3 mismatched
  issue                  smallint NOT NULL CHECK (issue BETWEEN 1 AND 3),
  reference              text     NOT NULL,
  channel_transaction_id text     NOT NULL DEFAULT '',
  -- NULL: that side has nothing
  ledger_amount          bigint,
  statement_amount       bigint,
  PRIMARY KEY (report_id, ordinal)
);
