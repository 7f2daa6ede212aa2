-- Devices (services/iot/src/devices, docs/iot.md "Registry and credentials").
-- A device belongs to one project of an operator; its broker client (MQTT username = client id =
-- device_id) and role (device-<device_id>) live in the broker's dynamic-security plugin, its
-- password nowhere here (shown once to whoever registered or rotated it).
CREATE TABLE devices (
  device_id           uuid        PRIMARY KEY,
  operator_id         text        NOT NULL,
  project_id          text        NOT NULL,
  kind                text        NOT NULL,
  profile             text        NOT NULL,
  name                text        NOT NULL,
  serial_number       text        NOT NULL,
  status              text        NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'revoked')),
  credentials_version integer     NOT NULL DEFAULT 1,
  revoked_at          timestamptz,
  revoke_reason       text        NOT NULL DEFAULT '',
  created_by          text        NOT NULL DEFAULT '',
  created_at          timestamptz NOT NULL DEFAULT clock_timestamp(),
  updated_at          timestamptz NOT NULL DEFAULT clock_timestamp(),
  UNIQUE (project_id, serial_number)
);

-- Lists: a project's devices newest first (the page token is (created_at, device_id)).
CREATE INDEX devices_project_created ON devices (project_id, created_at DESC, device_id DESC);
CREATE INDEX devices_operator_created ON devices (operator_id, created_at DESC, device_id DESC);
