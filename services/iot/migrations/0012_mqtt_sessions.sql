-- The broker sessions of iot's instances (docs/iot.md "Broker"): Mosquitto keeps routing a shared
-- subscription's messages to the session of a member that is gone, until that session expires and
-- drops them. Every instance keeps its client ids here with a heartbeat; another instance takes
-- over the session of one that left (left_at) or stopped beating, drains it and ends it.
CREATE TABLE mqtt_sessions (
  client_id    text PRIMARY KEY,
  -- which of the instance's connections: its handlers are the same on the instance that takes over
  connection   text NOT NULL CHECK (connection IN ('main', 'urgent')),
  heartbeat_at timestamptz NOT NULL DEFAULT now(),
  -- set by an instance that stopped and kept its session (no other instance was there to take it)
  left_at      timestamptz
);
