-- Rollup contributions of newly inserted facts, waiting to be folded into rollup_hour and
-- rollup_day. The ingest only inserts here (no row two consumers update), so concurrent event
-- groups never wait on each other; the fold job (one pass at a time, under an advisory lock)
-- deletes what it folds in the same transaction, so a contribution counts exactly once.
CREATE TABLE rollup_pending (
  id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  -- the producing service: identity, payment, settlement, points, marketing, iot
  source      text NOT NULL,
  occurred_at timestamptz NOT NULL,
  ingested_at timestamptz NOT NULL DEFAULT now(),
  operator_id text NOT NULL,
  project_id  text NOT NULL,
  metric      text NOT NULL,
  channel     text NOT NULL DEFAULT '',
  kind        text NOT NULL DEFAULT '',
  currency    text NOT NULL DEFAULT '',
  total       bigint NOT NULL
);

-- Per source: facts folded so far, the newest occurred_at and when the newest was ingested.
CREATE TABLE source_state (
  source           text PRIMARY KEY,
  facts            bigint NOT NULL DEFAULT 0,
  last_occurred_at timestamptz,
  last_ingested_at timestamptz
);
