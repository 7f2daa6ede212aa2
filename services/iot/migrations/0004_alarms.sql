-- Alarms (services/iot/src/alarms, docs/iot.md "Alarms"): ACTIVE_UNACKED > ACKED, CLEARED from
-- either. At most one open (not cleared) alarm per device and type: repeats count as occurrences.
CREATE TABLE alarms (
  alarm_id        uuid             PRIMARY KEY,
  device_id       uuid             NOT NULL REFERENCES devices (device_id),
  operator_id     text             NOT NULL,
  project_id      text             NOT NULL,
  type            text             NOT NULL,
  severity        text             NOT NULL CHECK (severity IN ('INFO', 'WARNING', 'CRITICAL')),
  status          text             NOT NULL DEFAULT 'active_unacked'
                                   CHECK (status IN ('active_unacked', 'acked', 'cleared')),
  acknowledged    boolean          NOT NULL DEFAULT false,
  value           double precision NOT NULL DEFAULT 0,
  occurrences     bigint           NOT NULL DEFAULT 1,
  raised_at       timestamptz      NOT NULL,
  acknowledged_at timestamptz,
  acknowledged_by text             NOT NULL DEFAULT '',
  cleared_at      timestamptz,
  cleared_by      text             NOT NULL DEFAULT '',
  created_at      timestamptz      NOT NULL DEFAULT clock_timestamp()
);
CREATE UNIQUE INDEX alarms_open_per_device_type ON alarms (device_id, type) WHERE status <> 'cleared';
CREATE INDEX alarms_project_raised ON alarms (project_id, raised_at DESC, alarm_id DESC);

-- A sustained rule's condition: since when (device clock) the metric has been above the threshold.
CREATE TABLE alarm_conditions (
  device_id   uuid        NOT NULL,
  type        text        NOT NULL,
  above_since timestamptz,
  last_at     timestamptz NOT NULL,
  PRIMARY KEY (device_id, type)
);
