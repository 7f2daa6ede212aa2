-- Presence and latest state (services/iot/src/presence, src/history; docs/iot.md "Presence", "State").
-- Presence of a device: applied only from a lifecycle message of the same or a newer connection
-- session than the one it shows (session = the device's connection counter, carried in its
-- state/last-will messages), so late or repeated lifecycle messages never turn it back online.
CREATE TABLE device_presence (
  device_id     uuid        PRIMARY KEY REFERENCES devices (device_id),
  online        boolean     NOT NULL DEFAULT false,
  -- counts the changes of `online` (PresenceChanged.version)
  version       bigint      NOT NULL DEFAULT 0,
  -- the device's connection session the presence is about
  session       bigint      NOT NULL DEFAULT 0,
  reason        text        NOT NULL DEFAULT '',
  last_seen_at  timestamptz,
  changed_at    timestamptz NOT NULL DEFAULT clock_timestamp()
);
-- the inactivity job: online devices by how long they have been silent
CREATE INDEX device_presence_online_seen ON device_presence (last_seen_at) WHERE online;

-- The latest value of each metric of a device (history is in telemetry_history).
CREATE TABLE device_state (
  device_id   uuid             NOT NULL,
  metric      text             NOT NULL,
  value       double precision NOT NULL,
  measured_at timestamptz      NOT NULL,
  PRIMARY KEY (device_id, metric)
);
