-- Group buying (services/marketing/src/group-deals, docs/marketing.md "Group buying"): deals whose
-- seats can never be oversold (CHECK paid + pending <= max_participants on the row every join,
-- payment and release changes under its lock), participants, and the calls to payment and
-- settlement persisted before they are made (deal_calls) so each is made, with its fixed request
-- id, until it answered: a refund asked once whoever asks, however often.
CREATE TABLE group_deals (
  deal_id          uuid        PRIMARY KEY,
  operator_id      text        NOT NULL,
  project_id       text        NOT NULL CHECK (project_id <> ''),
  merchant_id      text        NOT NULL CHECK (merchant_id <> ''),
  title            text        NOT NULL CHECK (char_length(title) BETWEEN 1 AND 80),
  item_code        text        NOT NULL CHECK (char_length(item_code) BETWEEN 1 AND 64),
  price_currency   text        NOT NULL CHECK (price_currency ~ '^[A-Z]{3}$'),
  price_minor      bigint      NOT NULL CHECK (price_minor > 0),
  min_participants integer     NOT NULL CHECK (min_participants >= 2),
  max_participants integer     NOT NULL CHECK (max_participants <= 10000),
  deadline         timestamptz NOT NULL,
  status           text        NOT NULL DEFAULT 'OPEN' CHECK (status IN ('OPEN', 'SUCCEEDED', 'FAILED')),
  paid             integer     NOT NULL DEFAULT 0 CHECK (paid >= 0),
  pending          integer     NOT NULL DEFAULT 0 CHECK (pending >= 0),
  created_by       text        NOT NULL,
  created_at       timestamptz NOT NULL DEFAULT clock_timestamp(),
  ended_at         timestamptz,
  CHECK (min_participants <= max_participants),
  CHECK (paid + pending <= max_participants),
  CHECK ((status = 'OPEN') = (ended_at IS NULL))
);
CREATE INDEX group_deals_open_by_deadline ON group_deals (deadline) WHERE status = 'OPEN';

CREATE TABLE participants (
  participant_id  uuid        PRIMARY KEY,
  deal_id         uuid        NOT NULL REFERENCES group_deals,
  user_id         text        NOT NULL,
  -- PENDING (holds a seat) > PAID | RELEASED | REFUNDED (paid after the seat was gone, or the deal
  -- failed); PAID > REFUNDED (the deal failed or a refund before it ended) | WITHDRAWN (a refund after it succeeded)
  status          text        NOT NULL DEFAULT 'PENDING'
                  CHECK (status IN ('PENDING', 'PAID', 'RELEASED', 'REFUNDED', 'WITHDRAWN')),
  payment_id      text        UNIQUE,
  pay_url         text        NOT NULL DEFAULT '',
  hold_expires_at timestamptz NOT NULL,
  joined_at       timestamptz NOT NULL DEFAULT clock_timestamp(),
  updated_at      timestamptz NOT NULL DEFAULT clock_timestamp()
);
-- one seat per user and deal at a time
CREATE UNIQUE INDEX participants_one_seat ON participants (deal_id, user_id) WHERE status IN ('PENDING', 'PAID');
CREATE INDEX participants_of_deal ON participants (deal_id, joined_at);
CREATE INDEX participants_held ON participants (hold_expires_at) WHERE status = 'PENDING';

-- Calls to payment and settlement, written with the state change that needs them and made after
-- its commit (and again by the calls job until one answers). call_id is the callee's request id.
CREATE TABLE deal_calls (
  call_id        text        PRIMARY KEY,
  kind           text        NOT NULL CHECK (kind IN ('CREATE_PAYMENT', 'REFUND', 'COMPLETE')),
  participant_id uuid        NOT NULL REFERENCES participants,
  status         text        NOT NULL DEFAULT 'DUE' CHECK (status IN ('DUE', 'DONE')),
  attempts       integer     NOT NULL DEFAULT 0,
  last_error     text        NOT NULL DEFAULT '',
  next_at        timestamptz NOT NULL DEFAULT clock_timestamp(),
  created_at     timestamptz NOT NULL DEFAULT clock_timestamp(),
  done_at        timestamptz
);
CREATE INDEX deal_calls_due ON deal_calls (next_at) WHERE status = 'DUE';

-- A payment outcome for a GROUP_BUY payment no participant names yet (its CreatePayment answer was
-- lost); applied when the participant's payment id is filled in.
CREATE TABLE unmatched_payments (
  payment_id  text        PRIMARY KEY,
  outcome     text        NOT NULL CHECK (outcome IN ('SUCCEEDED', 'FAILED')),
  recorded_at timestamptz NOT NULL DEFAULT clock_timestamp()
);
