-- People of the projects (residents, households, couriers) and door-access grants. Staff live in
-- 0001_tenancy.sql. Phone and ID numbers as in 0001: *_enc, *_hash (keyed lookup hash), *_masked;
-- never in clear. Operator and project ids are copied from the parent row so tenancy checks and
-- event keys need no joins.

-- verification_status: 1 unverified, 2 verified (citybase.identity.v1.VerificationStatus).
CREATE TABLE residents (
  resident_id          uuid        PRIMARY KEY,
  operator_id          uuid        NOT NULL REFERENCES operators,
  project_id           uuid        NOT NULL REFERENCES projects,
  name                 text        NOT NULL,
  phone_enc            bytea       NOT NULL,
  phone_hash           bytea       NOT NULL,
  phone_masked         text        NOT NULL,
  id_number_enc        bytea       NOT NULL,
  id_number_hash       bytea       NOT NULL,
  id_number_masked     text        NOT NULL,
  verification_status  smallint    NOT NULL CHECK (verification_status IN (1, 2)),
  verified_by_staff_id uuid        REFERENCES staff,
  verified_at          timestamptz,
  created_at           timestamptz NOT NULL DEFAULT clock_timestamp(),
  CHECK ((verification_status = 2) = (verified_by_staff_id IS NOT NULL)),
  CHECK ((verified_by_staff_id IS NULL) = (verified_at IS NULL))
);
-- One resident per phone and project; also the index of FindResidentByPhone and of binding by phone.
CREATE UNIQUE INDEX residents_project_phone ON residents (project_id, phone_hash);

-- A unit has at most one household; its head is a member with role 1.
CREATE TABLE households (
  household_id     uuid        PRIMARY KEY,
  operator_id      uuid        NOT NULL REFERENCES operators,
  project_id       uuid        NOT NULL REFERENCES projects,
  unit_id          uuid        NOT NULL UNIQUE REFERENCES units,
  head_resident_id uuid        NOT NULL REFERENCES residents,
  created_at       timestamptz NOT NULL DEFAULT clock_timestamp()
);

-- role: 1 head, 2 member (citybase.identity.v1.HouseholdRole). The primary key on resident_id is
-- what makes "a resident is in at most one household" hold under concurrent binds.
CREATE TABLE household_members (
  resident_id  uuid        PRIMARY KEY REFERENCES residents,
  household_id uuid        NOT NULL REFERENCES households,
  role         smallint    NOT NULL CHECK (role IN (1, 2)),
  relation     text        NOT NULL DEFAULT '' CHECK (char_length(relation) <= 50),
  bound_at     timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX household_members_household ON household_members (household_id, bound_at);
CREATE UNIQUE INDEX household_members_one_head ON household_members (household_id) WHERE role = 1;

CREATE TABLE couriers (
  courier_id       uuid        PRIMARY KEY,
  operator_id      uuid        NOT NULL REFERENCES operators,
  project_id       uuid        NOT NULL REFERENCES projects,
  name             text        NOT NULL,
  phone_enc        bytea       NOT NULL,
  phone_hash       bytea       NOT NULL,
  phone_masked     text        NOT NULL,
  id_number_enc    bytea       NOT NULL,
  id_number_hash   bytea       NOT NULL,
  id_number_masked text        NOT NULL,
  photo_ref        text        NOT NULL,
  employer         text        NOT NULL,
  created_at       timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX couriers_project ON couriers (project_id, created_at, courier_id);

-- status: 1 active, 2 revoked (citybase.identity.v1.GrantStatus). EXPIRED (3) is never stored: it
-- is computed on read from valid_until, so a grant expires at the exact instant without a job.
CREATE TABLE door_grants (
  grant_id            uuid        PRIMARY KEY,
  operator_id         uuid        NOT NULL REFERENCES operators,
  project_id          uuid        NOT NULL REFERENCES projects,
  resident_id         uuid        NOT NULL REFERENCES residents,
  building_id         uuid        REFERENCES buildings,
  unit_id             uuid        REFERENCES units,
  status              smallint    NOT NULL CHECK (status IN (1, 2)),
  issued_by_staff_id  uuid        NOT NULL REFERENCES staff,
  issued_at           timestamptz NOT NULL DEFAULT clock_timestamp(),
  valid_until         timestamptz,
  revoked_by_staff_id uuid        REFERENCES staff,
  revoked_at          timestamptz,
  CHECK ((building_id IS NULL) <> (unit_id IS NULL)),
  CHECK ((status = 2) = (revoked_by_staff_id IS NOT NULL)),
  CHECK ((revoked_by_staff_id IS NULL) = (revoked_at IS NULL))
);
CREATE INDEX door_grants_resident ON door_grants (resident_id, issued_at DESC, grant_id DESC);
