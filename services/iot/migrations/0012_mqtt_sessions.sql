-- The broker sessions of iot's instances (docs/iot.md "Broker"): Mosquitto keeps routing a shared
-- subscription's messages to the session of a member that is gone, until that session expires and
-- drops them. Every instance keeps its client ids here with a heartbeat; another instance takes
-- over the session of one that left or stopped beating, drains it and ends it.
CREATE TABLE mqtt_sessions (
  client_id    text PRIMARY KEY,
  -- which of the instance's connections: its handlers are the same on the instance that takes over
  connection   text NOT NULL CHECK (connection IN ('main', 'urgent')),
  heartbeat_at timestamptz NOT NULL DEFAULT now(),
  -- running; stopping (deciding whether to hand its sessions back); left (stopped, the session kept
  -- because no running instance was there to take its share)
  state        text NOT NULL DEFAULT 'running' CHECK (state IN ('running', 'stopping', 'left'))
);
