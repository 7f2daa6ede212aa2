-- Doors and couriers (services/iot/src/access, docs/iot.md "Doors and couriers").
--
-- Local projection of identity's facts (consumer iot.access, applied once per event id): units
-- with their building, households and their members, couriers, and door-access grants.
CREATE TABLE access_units (
  unit_id     text PRIMARY KEY,
  building_id text NOT NULL,
  project_id  text NOT NULL,
  operator_id text NOT NULL
);

CREATE TABLE access_households (
  household_id text PRIMARY KEY,
  unit_id      text NOT NULL,
  project_id   text NOT NULL
);

CREATE TABLE access_household_members (
  household_id text NOT NULL,
  resident_id  text NOT NULL,
  PRIMARY KEY (household_id, resident_id)
);
CREATE INDEX access_household_members_resident ON access_household_members (resident_id);

CREATE TABLE access_couriers (
  courier_id  text PRIMARY KEY,
  project_id  text NOT NULL,
  operator_id text NOT NULL,
  employer    text NOT NULL DEFAULT ''
);

CREATE TABLE access_grants (
  grant_id    text        PRIMARY KEY,
  operator_id text        NOT NULL,
  project_id  text        NOT NULL,
  resident_id text        NOT NULL,
  building_id text,
  unit_id     text,
  status      text        NOT NULL CHECK (status IN ('ACTIVE', 'REVOKED', 'EXPIRED')),
  valid_until timestamptz
);
CREATE INDEX access_grants_resident ON access_grants (resident_id);

-- Door controllers: each guards exactly one building entrance or one unit door.
CREATE TABLE doors (
  device_id   uuid        PRIMARY KEY,
  operator_id text        NOT NULL,
  project_id  text        NOT NULL,
  building_id text,
  unit_id     text,
  created_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
  CHECK ((building_id IS NULL) <> (unit_id IS NULL))
);

-- Every opening: a resident's (with the grant used) or a courier's (entry, then exit).
CREATE TABLE access_records (
  record_id      uuid        PRIMARY KEY,
  operator_id    text        NOT NULL,
  project_id     text        NOT NULL,
  kind           text        NOT NULL CHECK (kind IN ('RESIDENT', 'COURIER')),
  door_device_id uuid        NOT NULL,
  resident_id    text        NOT NULL DEFAULT '',
  grant_id       text        NOT NULL DEFAULT '',
  courier_id     text        NOT NULL DEFAULT '',
  unit_id        text        NOT NULL DEFAULT '',
  merchant_id    text        NOT NULL DEFAULT '',
  entered_at     timestamptz NOT NULL,
  exited_at      timestamptz,
  command_id     uuid        NOT NULL,
  exit_command_id uuid,
  created_at     timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX access_records_project_created ON access_records (project_id, created_at DESC, record_id DESC);
CREATE INDEX access_records_door_created ON access_records (door_device_id, created_at DESC, record_id DESC);

-- Couriers' one-time codes, stored only hashed (sha256 of project and code).
CREATE TABLE courier_codes (
  code_id     uuid        PRIMARY KEY,
  operator_id text        NOT NULL,
  project_id  text        NOT NULL,
  courier_id  text        NOT NULL,
  unit_id     text        NOT NULL,
  building_id text        NOT NULL,
  resident_id text        NOT NULL DEFAULT '',
  merchant_id text        NOT NULL DEFAULT '',
  code_hash   text        NOT NULL,
  state       text        NOT NULL DEFAULT 'ISSUED' CHECK (state IN ('ISSUED', 'ENTERED', 'EXITED', 'REVOKED')),
  expires_at  timestamptz NOT NULL,
  record_id   uuid,
  created_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
  UNIQUE (project_id, code_hash)
);
