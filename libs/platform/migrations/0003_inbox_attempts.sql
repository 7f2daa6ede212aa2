-- Started-but-not-finished attempts of the inbox consumer, so that an event whose handler kills the
-- process (out of memory, a native crash, process.exit) is dead-lettered after a few deaths instead
-- of being redelivered forever and blocking its partition (docs/adr/0004).
--
-- Each row is written and committed on its own BEFORE the work it counts starts, and deleted in the
-- transaction that finishes that work, so a row that survives a restart means the process died
-- while the work ran. Groups and single messages have separate tables: a group's death must not
-- count as a death of whichever message happens to come first, and a message's count must not be
-- reset by the next group.

-- The group (a range of offsets applied in one transaction) a partition is applying right now.
CREATE TABLE inbox_group_attempt (
  consumer        text        NOT NULL,
  topic           text        NOT NULL,
  kafka_partition integer     NOT NULL,
  from_offset     bigint      NOT NULL,
  to_offset       bigint      NOT NULL,
  started_at      timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (consumer, topic, kafka_partition)
);

-- A message applied on its own (after its group failed or died): how often it was started.
CREATE TABLE inbox_message_attempt (
  consumer        text        NOT NULL,
  topic           text        NOT NULL,
  kafka_partition integer     NOT NULL,
  kafka_offset    bigint      NOT NULL,
  starts          integer     NOT NULL,
  updated_at      timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (consumer, topic, kafka_partition, kafka_offset)
);
