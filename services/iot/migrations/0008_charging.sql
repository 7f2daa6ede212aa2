-- EV charging (services/iot/src/charging, docs/iot.md "EV charging"): chargers with their
-- time-of-use tariff and last known register, sessions built from the charger's sequence-numbered
-- events, and the readings (Wh registers) each session was billed from. One bill per session:
-- the billing call id is derived from the session (billing_calls).
CREATE TABLE chargers (
  device_id          uuid        PRIMARY KEY,
  operator_id        text        NOT NULL,
  project_id         text        NOT NULL,
  merchant_id        text        NOT NULL,
  currency           text        NOT NULL,
  -- [{"from_minute": 0, "price_minor": "40"}, ...] sorted by from_minute, the first at 0.
  bands              jsonb       NOT NULL,
  service_fee_minor  bigint      NOT NULL CHECK (service_fee_minor >= 0),
  -- The register at the end of the charger's last session: the floor of its next one.
  last_register_wh   bigint      NOT NULL DEFAULT 0 CHECK (last_register_wh >= 0),
  created_at         timestamptz NOT NULL DEFAULT clock_timestamp(),
  updated_at         timestamptz NOT NULL DEFAULT clock_timestamp()
);

CREATE TABLE charging_sessions (
  session_id         uuid        PRIMARY KEY,
  device_id          uuid        NOT NULL REFERENCES chargers (device_id),
  transaction_id     text        NOT NULL,
  operator_id        text        NOT NULL,
  project_id         text        NOT NULL,
  merchant_id        text        NOT NULL,
  user_id            text        NOT NULL DEFAULT '',
  state              text        NOT NULL DEFAULT 'ACTIVE' CHECK (state IN ('ACTIVE', 'STOPPED', 'FAULTED')),
  last_seq           integer     NOT NULL CHECK (last_seq >= 1),
  first_register_wh  bigint,
  last_register_wh   bigint,
  energy_wh          bigint      NOT NULL DEFAULT 0 CHECK (energy_wh >= 0),
  currency           text        NOT NULL,
  energy_minor       bigint      NOT NULL DEFAULT 0 CHECK (energy_minor >= 0),
  service_fee_minor  bigint      NOT NULL DEFAULT 0 CHECK (service_fee_minor >= 0),
  total_minor        bigint      NOT NULL DEFAULT 0 CHECK (total_minor >= 0),
  payment_id         text,
  fault              text        NOT NULL DEFAULT '',
  started_at         timestamptz NOT NULL,
  stopped_at         timestamptz,
  created_at         timestamptz NOT NULL DEFAULT clock_timestamp(),
  UNIQUE (device_id, transaction_id),
  CHECK (last_register_wh IS NULL OR first_register_wh <= last_register_wh)
);
CREATE INDEX charging_sessions_device_created ON charging_sessions (device_id, created_at DESC, session_id DESC);

CREATE TABLE charging_readings (
  session_id  uuid        NOT NULL REFERENCES charging_sessions (session_id),
  seq         integer     NOT NULL,
  at          timestamptz NOT NULL,
  register_wh bigint      NOT NULL CHECK (register_wh >= 0),
  PRIMARY KEY (session_id, seq)
);
