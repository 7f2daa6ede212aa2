-- Parking (services/iot/src/parking, docs/iot.md "Parking"): lots with their cameras, exit gate
-- and tariff, residents' monthly passes, and sessions from plate reads. One open session per
-- plate and lot; occupancy is the count of vehicles inside, kept with the sessions.
CREATE TABLE parking_lots (
  lot_id            uuid        PRIMARY KEY,
  operator_id       text        NOT NULL,
  project_id        text        NOT NULL,
  merchant_id       text        NOT NULL,
  name              text        NOT NULL,
  capacity          integer     NOT NULL CHECK (capacity > 0),
  entry_camera_id   uuid        NOT NULL UNIQUE,
  exit_camera_id    uuid        NOT NULL UNIQUE,
  exit_gate_id      uuid        NOT NULL,
  currency          text        NOT NULL,
  free_minutes      integer     NOT NULL CHECK (free_minutes >= 0),
  hourly_rate_minor bigint      NOT NULL CHECK (hourly_rate_minor >= 0),
  daily_cap_minor   bigint      NOT NULL CHECK (daily_cap_minor >= 0),
  occupied          integer     NOT NULL DEFAULT 0 CHECK (occupied >= 0),
  created_at        timestamptz NOT NULL DEFAULT clock_timestamp(),
  updated_at        timestamptz NOT NULL DEFAULT clock_timestamp()
);

CREATE TABLE parking_passes (
  pass_id     uuid        PRIMARY KEY,
  lot_id      uuid        NOT NULL REFERENCES parking_lots (lot_id),
  plate       text        NOT NULL,
  resident_id text        NOT NULL,
  valid_from  timestamptz NOT NULL,
  valid_until timestamptz NOT NULL CHECK (valid_until > valid_from),
  created_at  timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX parking_passes_plate ON parking_passes (lot_id, plate, valid_until);

CREATE TABLE parking_sessions (
  session_id        uuid        PRIMARY KEY,
  lot_id            uuid        NOT NULL REFERENCES parking_lots (lot_id),
  operator_id       text        NOT NULL,
  project_id        text        NOT NULL,
  merchant_id       text        NOT NULL,
  plate             text        NOT NULL,
  state             text        NOT NULL DEFAULT 'OPEN' CHECK (state IN ('OPEN', 'AWAITING_PAYMENT', 'CLOSED')),
  entered_at        timestamptz NOT NULL,
  exit_requested_at timestamptz,
  currency          text        NOT NULL,
  fee_minor         bigint      NOT NULL DEFAULT 0 CHECK (fee_minor >= 0),
  pass_applied      boolean     NOT NULL DEFAULT false,
  -- Exit attempts that asked for a payment (a failed or expired payment lets the next read ask again).
  payment_attempt   integer     NOT NULL DEFAULT 0,
  payment_id        text,
  gate_command_id   uuid,
  closed_at         timestamptz,
  created_at        timestamptz NOT NULL DEFAULT clock_timestamp(),
  CHECK ((state = 'CLOSED') = (closed_at IS NOT NULL AND gate_command_id IS NOT NULL))
);
-- One vehicle with a plate is inside a lot at most once.
CREATE UNIQUE INDEX parking_sessions_inside ON parking_sessions (lot_id, plate) WHERE state <> 'CLOSED';
CREATE INDEX parking_sessions_lot_created ON parking_sessions (lot_id, created_at DESC, session_id DESC);
