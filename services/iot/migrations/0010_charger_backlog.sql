-- Charger events that came over MQTT before an earlier one of their transaction (docs/iot.md
-- "Device events"): a charger's messages may reach two iot instances of a shared subscription in
-- either order, and a PUBACK cannot ask the charger to send the missing one first. The event waits
-- here, acknowledged, and is applied as soon as the one before it was.
CREATE TABLE charger_event_backlog (
  device_id      uuid NOT NULL,
  transaction_id text NOT NULL,
  seq            int NOT NULL,
  type           text NOT NULL CHECK (type IN ('START', 'METER', 'STOP')),
  register_wh    bigint,
  at             timestamptz NOT NULL,
  user_id        text NOT NULL DEFAULT '',
  received_at    timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (device_id, transaction_id, seq)
);
