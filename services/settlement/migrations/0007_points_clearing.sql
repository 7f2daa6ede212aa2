-- Points liability and clearing (src/points-clearing, docs/settlement-points.md): the account kind
-- POINTS_CLEARING (11), the clearing obligations points announces (ClearingObligationCreated), and
-- the cycles that settle them.

ALTER TABLE ledger_accounts DROP CONSTRAINT ledger_accounts_kind_check;
ALTER TABLE ledger_accounts ADD CONSTRAINT ledger_accounts_kind_check CHECK (kind BETWEEN 1 AND 11);

-- One run of the clearing cycle: the open obligations of one currency it took, netted into one ledger
-- transaction (none when they netted to nothing).
CREATE TABLE points_clearing_cycles (
  cycle_id    uuid        PRIMARY KEY,
  currency    char(3)     NOT NULL,
  obligations integer     NOT NULL CHECK (obligations > 0),
  tx_id       uuid        REFERENCES ledger_transactions,
  settled_at  timestamptz NOT NULL DEFAULT clock_timestamp()
);

-- An obligation between an issuer (debtor: the points' operator and project) and the place its
-- points were spent (creditor: operator, project, merchant), posted when it arrived (tx_id) and
-- settled once by a cycle: open -> settled (UPDATE ... WHERE status = 'open').
CREATE TABLE points_clearing_obligations (
  obligation_id        uuid        PRIMARY KEY,
  event_id             text        NOT NULL,
  reservation_id       text        NOT NULL,
  debtor_operator_id   text        NOT NULL,
  debtor_project_id    text        NOT NULL DEFAULT '',
  creditor_operator_id text        NOT NULL,
  creditor_project_id  text        NOT NULL DEFAULT '',
  creditor_merchant_id text        NOT NULL DEFAULT '',
  points               bigint      NOT NULL CHECK (points > 0),
  currency             char(3)     NOT NULL,
  amount_minor         bigint      NOT NULL CHECK (amount_minor > 0),
  tx_id                uuid        NOT NULL REFERENCES ledger_transactions,
  status               text        NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'settled')),
  cycle_id             uuid        REFERENCES points_clearing_cycles,
  occurred_at          timestamptz NOT NULL,
  received_at          timestamptz NOT NULL DEFAULT clock_timestamp(),
  CHECK ((status = 'settled') = (cycle_id IS NOT NULL)),
  CHECK (debtor_operator_id <> creditor_operator_id OR debtor_project_id <> creditor_project_id)
);

-- The cycle: open obligations, oldest first.
CREATE INDEX points_clearing_obligations_open ON points_clearing_obligations (received_at) WHERE status = 'open';
