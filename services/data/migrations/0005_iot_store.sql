-- iot in the analytical store (docs/data.md "iot's figures").
--
-- dim_device: each device's registration, revocation and presence, kept from iot's
-- DeviceRegistered, DeviceRevoked and PresenceChanged. Presence is a level, not a flow: a
-- PresenceChanged with a version at or below the stored one changes nothing, so a duplicate or an
-- out-of-order copy never leaves a device wrongly online. The device online rate is
-- count(online) / count(NOT revoked) over these rows.
CREATE TABLE dim_device (
  device_id        text PRIMARY KEY,
  operator_id      text NOT NULL DEFAULT '',
  project_id       text NOT NULL DEFAULT '',
  -- DeviceKind without its prefix; '' until DeviceRegistered is seen
  kind             text NOT NULL DEFAULT '',
  revoked          boolean NOT NULL DEFAULT false,
  online           boolean NOT NULL DEFAULT false,
  presence_version bigint NOT NULL DEFAULT 0,
  last_occurred_at timestamptz,
  updated_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX dim_device_tenancy ON dim_device (operator_id, project_id);

-- Bulk telemetry (citybase.iot.telemetry.v1) aggregated before it is written: one row per device
-- and hour of the device's clock with the messages and readings it sent, instead of a row per
-- message. Each message is applied once (the inbox, by its CloudEvents id, which iot derives from
-- the device and its message id); the first message of a device in an hour adds 1 to
-- iot.telemetry_devices (devices reporting), every message to iot.telemetry_messages.
CREATE TABLE telemetry_device_hour (
  bucket           timestamptz NOT NULL,
  device_id        text NOT NULL,
  operator_id      text NOT NULL,
  project_id       text NOT NULL DEFAULT '',
  messages         bigint NOT NULL,
  readings         bigint NOT NULL,
  last_occurred_at timestamptz NOT NULL,
  PRIMARY KEY (bucket, device_id)
);
CREATE INDEX telemetry_device_hour_tenancy ON telemetry_device_hour (operator_id, project_id, bucket);

-- The money of an iot fact (a parking exit's fee, a charging session's bill), so every rollup of
-- iot.parking_fee and iot.charging_revenue can be recomputed from its facts.
ALTER TABLE fact_iot_event ADD COLUMN amount_minor bigint NOT NULL DEFAULT 0;
ALTER TABLE fact_iot_event ADD COLUMN currency text NOT NULL DEFAULT '';

-- ... and offered with the rest of iot.events in the feeds' catalog.
INSERT INTO dataset_fields (dataset_id, name, position, type, classification, description, free_text)
VALUES ('iot.events', 'amount_minor', 8, 'int64', 'INTERNAL', 'parking fee or charging bill in minor units', false),
       ('iot.events', 'currency', 9, 'string', 'PUBLIC', 'ISO 4217', false);
UPDATE datasets SET description = 'Devices registered and revoked, presence, alarms, commands, doors and couriers, parking and charging sessions',
                    version = version + 1, updated_at = now()
 WHERE dataset_id = 'iot.events';
