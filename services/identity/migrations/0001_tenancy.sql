-- idempotency_keys moved to the platform's migration 0003 (one definition for every service).
-- replaces-checksum: 108113cca072a054ef21b337451b90d5c4e8f69ea502c22a2f0948dc1e496469
-- Tenancy tree of the city and the staff who act in it. City = the deployment (CITY_ID), so it has
-- no table. Personal values (phone, ID number) are stored as *_enc (AES-256-GCM, see
-- src/shared/pii.ts), *_hash (keyed lookup hash) and *_masked; never in clear.

CREATE TABLE operators (
  operator_id uuid        PRIMARY KEY,
  name        text        NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX operators_page ON operators (created_at, operator_id);

CREATE TABLE projects (
  project_id  uuid        PRIMARY KEY,
  operator_id uuid        NOT NULL REFERENCES operators,
  name        text        NOT NULL,
  kind        smallint    NOT NULL CHECK (kind BETWEEN 1 AND 7),
  created_at  timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX projects_page ON projects (operator_id, created_at, project_id);

CREATE TABLE buildings (
  building_id uuid        PRIMARY KEY,
  project_id  uuid        NOT NULL REFERENCES projects,
  operator_id uuid        NOT NULL REFERENCES operators,
  name        text        NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
  UNIQUE (project_id, name)
);
CREATE INDEX buildings_page ON buildings (project_id, created_at, building_id);

CREATE TABLE units (
  unit_id     uuid        PRIMARY KEY,
  building_id uuid        NOT NULL REFERENCES buildings,
  project_id  uuid        NOT NULL REFERENCES projects,
  operator_id uuid        NOT NULL REFERENCES operators,
  name        text        NOT NULL,
  floor       integer     NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
  UNIQUE (building_id, name)
);

CREATE TABLE agencies (
  agency_id  uuid        PRIMARY KEY,
  name       text        NOT NULL,
  kind       smallint    NOT NULL CHECK (kind BETWEEN 1 AND 5),
  created_at timestamptz NOT NULL DEFAULT clock_timestamp()
);

-- role: 1 property staff (project), 2 merchant staff (project + merchant), 3 operator admin.
CREATE TABLE staff (
  staff_id     uuid        PRIMARY KEY,
  operator_id  uuid        NOT NULL REFERENCES operators,
  project_id   uuid        REFERENCES projects,
  merchant_id  uuid,
  role         smallint    NOT NULL CHECK (role BETWEEN 1 AND 3),
  name         text        NOT NULL,
  phone_enc    bytea       NOT NULL,
  phone_hash   bytea       NOT NULL,
  phone_masked text        NOT NULL,
  active       boolean     NOT NULL DEFAULT true,
  created_at   timestamptz NOT NULL DEFAULT clock_timestamp(),
  CHECK ((role = 3) = (project_id IS NULL)),
  CHECK ((role = 2) = (merchant_id IS NOT NULL))
);
CREATE INDEX staff_project ON staff (project_id);

-- status: 1 pending, 2 active, 3 suspended.
CREATE TABLE merchants (
  merchant_id            uuid        PRIMARY KEY,
  operator_id            uuid        NOT NULL REFERENCES operators,
  project_id             uuid        NOT NULL REFERENCES projects,
  name                   text        NOT NULL,
  status                 smallint    NOT NULL CHECK (status BETWEEN 1 AND 3),
  location               text        NOT NULL,
  unit_id                uuid        REFERENCES units,
  owner_name             text        NOT NULL,
  owner_id_number_enc    bytea       NOT NULL,
  owner_id_number_hash   bytea       NOT NULL,
  owner_id_number_masked text        NOT NULL,
  contact_phone_enc      bytea       NOT NULL,
  contact_phone_hash     bytea       NOT NULL,
  contact_phone_masked   text        NOT NULL,
  lease_ref              text        NOT NULL,
  business_scope         text        NOT NULL,
  photo_refs             text[]      NOT NULL DEFAULT '{}',
  registered_by_staff_id uuid        NOT NULL REFERENCES staff,
  status_reason          text        NOT NULL DEFAULT '',
  status_changed_at      timestamptz,
  created_at             timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX merchants_page ON merchants (project_id, created_at, merchant_id);

ALTER TABLE staff ADD CONSTRAINT staff_merchant_fk FOREIGN KEY (merchant_id) REFERENCES merchants;
