-- Accounts, lots, reservations and their append-only history (services/points/src/accounts,
-- docs/points.md "Model"). The balance is never stored: available = Σ (remaining - held) over an
-- account's available, unexpired lots. Every change of an account happens in one transaction under
-- its row lock (`SELECT ... FROM accounts ... FOR UPDATE`).

-- A holder (user or household id) in one operator's programme; created on first use.
--   holder_kind  1 user, 2 household (HolderKind)
CREATE TABLE accounts (
  account_id  uuid        PRIMARY KEY,
  operator_id text        NOT NULL,
  holder_id   text        NOT NULL,
  holder_kind smallint    NOT NULL DEFAULT 1 CHECK (holder_kind BETWEEN 1 AND 2),
  tier        text        NOT NULL DEFAULT '',
  -- points a refund could not take back; the next earnings pay it off
  debt        bigint      NOT NULL DEFAULT 0 CHECK (debt >= 0),
  created_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
  UNIQUE (operator_id, holder_id)
);

-- A hold of points for a checkout.
--   status  1 held, 2 confirmed, 3 cancelled, 4 expired (ReservationStatus); each end exactly once
--           (UPDATE ... WHERE status = 1), ended_at set with it.
CREATE TABLE reservations (
  reservation_id uuid        PRIMARY KEY,
  account_id     uuid        NOT NULL REFERENCES accounts,
  -- the programme's operator, and where the points are redeemed
  operator_id    text        NOT NULL,
  project_id     text        NOT NULL DEFAULT '',
  merchant_id    text        NOT NULL DEFAULT '',
  holder_id      text        NOT NULL,
  points         bigint      NOT NULL CHECK (points > 0),
  status         smallint    NOT NULL CHECK (status BETWEEN 1 AND 4),
  reference      text        NOT NULL DEFAULT '',
  created_at     timestamptz NOT NULL DEFAULT clock_timestamp(),
  expires_at     timestamptz NOT NULL,
  ended_at       timestamptz,
  CHECK ((status = 1) = (ended_at IS NULL))
);

-- The hold expiry job: held reservations by deadline.
CREATE INDEX reservations_held_expiry ON reservations (expires_at) WHERE status = 1;

-- Append-only history: one row per change of an account, its deltas signed.
--   kind  EntryKind: 2 issued, 4 reserved, 5 confirmed, 6 cancelled, 7 reservation expired,
--         11 expired, ... (1-13)
CREATE TABLE points_entries (
  entry_id        uuid        PRIMARY KEY,
  account_id      uuid        NOT NULL REFERENCES accounts,
  kind            smallint    NOT NULL CHECK (kind BETWEEN 1 AND 13),
  available_delta bigint      NOT NULL DEFAULT 0,
  pending_delta   bigint      NOT NULL DEFAULT 0,
  reserved_delta  bigint      NOT NULL DEFAULT 0,
  debt_delta      bigint      NOT NULL DEFAULT 0,
  reason          text        NOT NULL DEFAULT '',
  -- the payment, reservation, transfer or lot the change concerns
  reference       text        NOT NULL DEFAULT '',
  reservation_id  uuid        REFERENCES reservations,
  -- the calling client (RPCs) or the event (consumers); both empty for a job
  client_id       text        NOT NULL DEFAULT '',
  event_id        text        NOT NULL DEFAULT '',
  member_id       text        NOT NULL DEFAULT '',
  occurred_at     timestamptz NOT NULL DEFAULT clock_timestamp()
);

-- ListHistory: an account's entries newest first (page token (occurred_at, entry_id)).
CREATE INDEX points_entries_account ON points_entries (account_id, occurred_at DESC, entry_id DESC);
-- A reservation ends at most once: one confirmed, cancelled or expired entry each.
CREATE UNIQUE INDEX points_entries_reservation_end
  ON points_entries (reservation_id) WHERE kind IN (5, 6, 7);

-- Every credit of an account.
--   status  1 pending, 2 available (LotStatus; "expired" is expires_at <= now, not a stored state)
--   source  1 earned, 2 issued, 3 transfer (LotSource)
-- remaining: not yet spent, expired, reversed or transferred, held units included; held: units
-- allocated to HELD reservations (reservation_lots). Past expires_at the expiry job sets
-- remaining = held; held units expire when their reservation ends without being confirmed.
CREATE TABLE lots (
  lot_id             uuid        PRIMARY KEY,
  account_id         uuid        NOT NULL REFERENCES accounts,
  amount             bigint      NOT NULL CHECK (amount > 0),
  remaining          bigint      NOT NULL,
  held               bigint      NOT NULL DEFAULT 0,
  status             smallint    NOT NULL CHECK (status BETWEEN 1 AND 2),
  source             smallint    NOT NULL CHECK (source BETWEEN 1 AND 3),
  -- payment id (earned), request id (issued), transfer id (transfer)
  source_ref         text        NOT NULL,
  -- who issued the points, and the budget node they were charged to
  issuer_operator_id text        NOT NULL,
  issuer_project_id  text        NOT NULL DEFAULT '',
  budget_id          uuid        NOT NULL,
  member_id          text        NOT NULL DEFAULT '',
  -- the history entry that created the lot (remaining = amount + Σ later entry_lots deltas)
  entry_id           uuid        NOT NULL REFERENCES points_entries,
  earned_at          timestamptz NOT NULL,
  available_at       timestamptz NOT NULL,
  expires_at         timestamptz NOT NULL,
  CHECK (0 <= held AND held <= remaining AND remaining <= amount),
  -- pending lots hold nothing
  CHECK (status = 2 OR held = 0)
);

-- An account's lots, earliest expiry first (allocation order, ListLots).
CREATE INDEX lots_account_expiry ON lots (account_id, expires_at, lot_id);
-- The lot expiry job: lots with units left to expire.
CREATE INDEX lots_expiry_due ON lots (expires_at) WHERE remaining > held;

-- The units a reservation holds in each lot (allocated earliest expiry first).
CREATE TABLE reservation_lots (
  reservation_id uuid   NOT NULL REFERENCES reservations,
  lot_id         uuid   NOT NULL REFERENCES lots,
  units          bigint NOT NULL CHECK (units > 0),
  PRIMARY KEY (reservation_id, lot_id)
);
CREATE INDEX reservation_lots_lot ON reservation_lots (lot_id);

-- Which lots an entry took units from or gave units to, after their creation (signed).
CREATE TABLE entry_lots (
  entry_id        uuid   NOT NULL REFERENCES points_entries,
  lot_id          uuid   NOT NULL REFERENCES lots,
  remaining_delta bigint NOT NULL,
  held_delta      bigint NOT NULL,
  PRIMARY KEY (entry_id, lot_id),
  CHECK (remaining_delta <> 0 OR held_delta <> 0)
);
CREATE INDEX entry_lots_lot ON entry_lots (lot_id);

-- The history is never changed or removed.
CREATE FUNCTION points_history_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION '% is append-only', TG_TABLE_NAME USING ERRCODE = 'restrict_violation';
END $$;

CREATE TRIGGER points_entries_append_only BEFORE UPDATE OR DELETE ON points_entries
  FOR EACH ROW EXECUTE FUNCTION points_history_append_only();
CREATE TRIGGER points_entries_no_truncate BEFORE TRUNCATE ON points_entries
  FOR EACH STATEMENT EXECUTE FUNCTION points_history_append_only();
CREATE TRIGGER entry_lots_append_only BEFORE UPDATE OR DELETE ON entry_lots
  FOR EACH ROW EXECUTE FUNCTION points_history_append_only();
CREATE TRIGGER entry_lots_no_truncate BEFORE TRUNCATE ON entry_lots
  FOR EACH STATEMENT EXECUTE FUNCTION points_history_append_only();
