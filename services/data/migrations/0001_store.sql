-- The city's analytical store (docs/data.md "Analytical store"): facts consumed from every business
-- topic, rolled up by operator / project / hour / day.
--
-- Fact tables are partitioned by month of occurred_at (data_ensure_partitions creates the months;
-- the retention job drops whole months). Each fact row is keyed by the event that produced it
-- (event_id, line, occurred_at): a redelivered event inserts nothing and so changes no rollup.
--
-- Convention for the tables government feeds export (docs/data.md "Feed cursors"): `seq` (an
-- identity, the order rows were inserted) and `txid` (the inserting transaction, xid8), so a cursor
-- can be built on the commit order (pg_snapshot_xmin) rather than on a timestamp; plus operator_id,
-- project_id and district (from dim_project, NULL until a project's district is known).

-- ---- dimensions (identity's events) ----
CREATE TABLE dim_operator (
  operator_id text PRIMARY KEY,
  name        text NOT NULL DEFAULT '',
  created_at  timestamptz,
  updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE dim_project (
  project_id  text PRIMARY KEY,
  operator_id text NOT NULL,
  name        text NOT NULL DEFAULT '',
  kind        text NOT NULL DEFAULT '',
  -- the administrative district the project lies in; no source event carries it yet
  district    text,
  created_at  timestamptz,
  updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX dim_project_operator ON dim_project (operator_id);

-- ---- facts ----

-- payment's PaymentSucceeded / PaymentFailed / PaymentExpired: one row per event.
CREATE TABLE fact_payment (
  event_id     uuid NOT NULL,
  line         smallint NOT NULL DEFAULT 0,
  occurred_at  timestamptz NOT NULL,
  ingested_at  timestamptz NOT NULL DEFAULT now(),
  operator_id  text NOT NULL,
  project_id   text NOT NULL DEFAULT '',
  merchant_id  text NOT NULL DEFAULT '',
  district     text,
  payment_id   text NOT NULL,
  -- succeeded | failed | expired
  status       text NOT NULL,
  channel      text NOT NULL DEFAULT '',
  -- PaymentScenario without its prefix, e.g. PARKING
  scenario     text NOT NULL DEFAULT '',
  amount_minor bigint NOT NULL,
  currency     text NOT NULL,
  seq          bigint GENERATED ALWAYS AS IDENTITY,
  txid         xid8 NOT NULL DEFAULT pg_current_xact_id(),
  PRIMARY KEY (event_id, line, occurred_at)
) PARTITION BY RANGE (occurred_at);
CREATE INDEX fact_payment_seq ON fact_payment (seq);
CREATE INDEX fact_payment_occurred ON fact_payment (occurred_at);

-- payment's RefundSucceeded / RefundFailed.
CREATE TABLE fact_refund (
  event_id     uuid NOT NULL,
  line         smallint NOT NULL DEFAULT 0,
  occurred_at  timestamptz NOT NULL,
  ingested_at  timestamptz NOT NULL DEFAULT now(),
  operator_id  text NOT NULL,
  project_id   text NOT NULL DEFAULT '',
  merchant_id  text NOT NULL DEFAULT '',
  district     text,
  refund_id    text NOT NULL,
  payment_id   text NOT NULL,
  -- succeeded | failed
  status       text NOT NULL,
  channel      text NOT NULL DEFAULT '',
  scenario     text NOT NULL DEFAULT '',
  amount_minor bigint NOT NULL,
  currency     text NOT NULL,
  seq          bigint GENERATED ALWAYS AS IDENTITY,
  txid         xid8 NOT NULL DEFAULT pg_current_xact_id(),
  PRIMARY KEY (event_id, line, occurred_at)
) PARTITION BY RANGE (occurred_at);
CREATE INDEX fact_refund_seq ON fact_refund (seq);
CREATE INDEX fact_refund_occurred ON fact_refund (occurred_at);

-- settlement's escrow movements: OrderEscrowed (+), OrderCompleted (released, -), OrderRefunded (-),
-- OrderDisputed / DisputeResolved (amount 0 for the balance, recorded for the count).
CREATE TABLE fact_escrow (
  event_id     uuid NOT NULL,
  line         smallint NOT NULL DEFAULT 0,
  occurred_at  timestamptz NOT NULL,
  ingested_at  timestamptz NOT NULL DEFAULT now(),
  operator_id  text NOT NULL,
  project_id   text NOT NULL DEFAULT '',
  merchant_id  text NOT NULL DEFAULT '',
  district     text,
  order_id     text NOT NULL,
  -- escrowed | completed | refunded | disputed | resolved
  kind         text NOT NULL,
  -- signed: what the movement does to the escrow balance
  amount_minor bigint NOT NULL,
  currency     text NOT NULL,
  seq          bigint GENERATED ALWAYS AS IDENTITY,
  txid         xid8 NOT NULL DEFAULT pg_current_xact_id(),
  PRIMARY KEY (event_id, line, occurred_at)
) PARTITION BY RANGE (occurred_at);
CREATE INDEX fact_escrow_seq ON fact_escrow (seq);
CREATE INDEX fact_escrow_occurred ON fact_escrow (occurred_at);

-- Tax withheld when settlement completes an order (OrderCompleted's "tax" split part): the
-- merchant's taxable turnover (what was released) and the tax.
CREATE TABLE fact_tax_record (
  event_id               uuid NOT NULL,
  line                   smallint NOT NULL DEFAULT 0,
  occurred_at            timestamptz NOT NULL,
  ingested_at            timestamptz NOT NULL DEFAULT now(),
  operator_id            text NOT NULL,
  project_id             text NOT NULL DEFAULT '',
  merchant_id            text NOT NULL DEFAULT '',
  district               text,
  order_id               text NOT NULL,
  taxable_turnover_minor bigint NOT NULL,
  tax_minor              bigint NOT NULL,
  currency               text NOT NULL,
  seq                    bigint GENERATED ALWAYS AS IDENTITY,
  txid                   xid8 NOT NULL DEFAULT pg_current_xact_id(),
  PRIMARY KEY (event_id, line, occurred_at)
) PARTITION BY RANGE (occurred_at);
CREATE INDEX fact_tax_record_seq ON fact_tax_record (seq);
CREATE INDEX fact_tax_record_occurred ON fact_tax_record (occurred_at);

-- points' movements: earned, issued, redeemed, reversed, expired (one line per issuer lot when the
-- event lists lots), transferred.
CREATE TABLE fact_points_movement (
  event_id     uuid NOT NULL,
  line         smallint NOT NULL DEFAULT 0,
  occurred_at  timestamptz NOT NULL,
  ingested_at  timestamptz NOT NULL DEFAULT now(),
  operator_id  text NOT NULL,
  project_id   text NOT NULL DEFAULT '',
  merchant_id  text NOT NULL DEFAULT '',
  district     text,
  -- earned | issued | redeemed | reversed | expired | transferred
  kind         text NOT NULL,
  holder_id    text NOT NULL DEFAULT '',
  points       bigint NOT NULL,
  value_minor  bigint NOT NULL DEFAULT 0,
  currency     text NOT NULL DEFAULT '',
  -- payment id, reservation reference or transfer id
  reference    text NOT NULL DEFAULT '',
  seq          bigint GENERATED ALWAYS AS IDENTITY,
  txid         xid8 NOT NULL DEFAULT pg_current_xact_id(),
  PRIMARY KEY (event_id, line, occurred_at)
) PARTITION BY RANGE (occurred_at);
CREATE INDEX fact_points_movement_seq ON fact_points_movement (seq);
CREATE INDEX fact_points_movement_occurred ON fact_points_movement (occurred_at);

-- marketing's CouponClaimed and CouponExpired.
CREATE TABLE fact_coupon_claim (
  event_id        uuid NOT NULL,
  line            smallint NOT NULL DEFAULT 0,
  occurred_at     timestamptz NOT NULL,
  ingested_at     timestamptz NOT NULL DEFAULT now(),
  operator_id     text NOT NULL,
  project_id      text NOT NULL DEFAULT '',
  merchant_id     text NOT NULL DEFAULT '',
  district        text,
  -- claimed | expired
  kind            text NOT NULL,
  coupon_id       text NOT NULL,
  campaign_id     text NOT NULL DEFAULT '',
  user_id         text NOT NULL DEFAULT '',
  max_value_minor bigint NOT NULL DEFAULT 0,
  currency        text NOT NULL DEFAULT '',
  seq             bigint GENERATED ALWAYS AS IDENTITY,
  txid            xid8 NOT NULL DEFAULT pg_current_xact_id(),
  PRIMARY KEY (event_id, line, occurred_at)
) PARTITION BY RANGE (occurred_at);
CREATE INDEX fact_coupon_claim_seq ON fact_coupon_claim (seq);
CREATE INDEX fact_coupon_claim_occurred ON fact_coupon_claim (occurred_at);
CREATE INDEX fact_coupon_claim_coupon ON fact_coupon_claim (coupon_id);

-- marketing's CouponRedeemed and CouponReleased (a redemption rolled back).
CREATE TABLE fact_coupon_redemption (
  event_id           uuid NOT NULL,
  line               smallint NOT NULL DEFAULT 0,
  occurred_at        timestamptz NOT NULL,
  ingested_at        timestamptz NOT NULL DEFAULT now(),
  operator_id        text NOT NULL,
  project_id         text NOT NULL DEFAULT '',
  merchant_id        text NOT NULL DEFAULT '',
  district           text,
  -- redeemed | released
  kind               text NOT NULL,
  redemption_id      text NOT NULL,
  coupon_id          text NOT NULL,
  campaign_id        text NOT NULL DEFAULT '',
  user_id            text NOT NULL DEFAULT '',
  reference          text NOT NULL DEFAULT '',
  basket_total_minor bigint NOT NULL DEFAULT 0,
  discount_minor     bigint NOT NULL DEFAULT 0,
  currency           text NOT NULL DEFAULT '',
  -- FundingSource without its prefix
  funding            text NOT NULL DEFAULT '',
  seq                bigint GENERATED ALWAYS AS IDENTITY,
  txid               xid8 NOT NULL DEFAULT pg_current_xact_id(),
  PRIMARY KEY (event_id, line, occurred_at)
) PARTITION BY RANGE (occurred_at);
CREATE INDEX fact_coupon_redemption_seq ON fact_coupon_redemption (seq);
CREATE INDEX fact_coupon_redemption_occurred ON fact_coupon_redemption (occurred_at);

-- iot's events (DeviceRegistered, AlarmRaised, CommandStatusChanged, ...): one generic table, the
-- event's short name in `kind` and its figure in `value` (docs/data.md "Adding a source").
CREATE TABLE fact_iot_event (
  event_id    uuid NOT NULL,
  line        smallint NOT NULL DEFAULT 0,
  occurred_at timestamptz NOT NULL,
  ingested_at timestamptz NOT NULL DEFAULT now(),
  operator_id text NOT NULL,
  project_id  text NOT NULL DEFAULT '',
  district    text,
  kind        text NOT NULL,
  device_id   text NOT NULL DEFAULT '',
  -- e.g. the device kind, the alarm severity, the command status
  detail      text NOT NULL DEFAULT '',
  value       double precision NOT NULL DEFAULT 1,
  seq         bigint GENERATED ALWAYS AS IDENTITY,
  txid        xid8 NOT NULL DEFAULT pg_current_xact_id(),
  PRIMARY KEY (event_id, line, occurred_at)
) PARTITION BY RANGE (occurred_at);
CREATE INDEX fact_iot_event_seq ON fact_iot_event (seq);
CREATE INDEX fact_iot_event_occurred ON fact_iot_event (occurred_at);

-- ---- rollups ----
-- One row per (bucket, operator, project, metric, channel, kind, currency): `total` sums the
-- metric's figure (minor units for money, points, counts), `events` counts the facts. A fact adds
-- itself to the hour and the day of its occurred_at, however late it arrives. `last_occurred_at`
-- is the newest fact in the row (the dashboard's freshness badges).
CREATE TABLE rollup_hour (
  bucket           timestamptz NOT NULL,
  operator_id      text NOT NULL,
  project_id       text NOT NULL,
  metric           text NOT NULL,
  channel          text NOT NULL DEFAULT '',
  kind             text NOT NULL DEFAULT '',
  currency         text NOT NULL DEFAULT '',
  total            bigint NOT NULL DEFAULT 0,
  events           bigint NOT NULL DEFAULT 0,
  last_occurred_at timestamptz NOT NULL,
  updated_at       timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (bucket, operator_id, project_id, metric, channel, kind, currency)
);
CREATE INDEX rollup_hour_metric ON rollup_hour (metric, bucket);
CREATE INDEX rollup_hour_tenancy ON rollup_hour (operator_id, project_id, bucket);
CREATE INDEX rollup_hour_updated ON rollup_hour (updated_at);

CREATE TABLE rollup_day (LIKE rollup_hour INCLUDING DEFAULTS);
ALTER TABLE rollup_day ADD PRIMARY KEY (bucket, operator_id, project_id, metric, channel, kind, currency);
CREATE INDEX rollup_day_metric ON rollup_day (metric, bucket);
CREATE INDEX rollup_day_tenancy ON rollup_day (operator_id, project_id, bucket);

-- Creates the monthly partitions of every fact table for the months from `from_month` to
-- `to_month` (inclusive) that do not exist yet. Called by the ingest (in its own transaction)
-- before it writes into a month, and by the retention job ahead of time.
CREATE FUNCTION data_ensure_partitions(from_month date, to_month date) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
  t text;
  m date := date_trunc('month', from_month)::date;
  name text;
BEGIN
  WHILE m <= date_trunc('month', to_month)::date LOOP
    FOREACH t IN ARRAY ARRAY['fact_payment', 'fact_refund', 'fact_escrow', 'fact_tax_record',
                             'fact_points_movement', 'fact_coupon_claim', 'fact_coupon_redemption',
                             'fact_iot_event'] LOOP
      name := t || '_' || to_char(m, 'YYYYMM');
      IF to_regclass(name) IS NULL THEN
        EXECUTE format('CREATE TABLE IF NOT EXISTS %I PARTITION OF %I FOR VALUES FROM (%L) TO (%L)',
                       name, t, to_char(m, 'YYYY-MM-DD') || ' 00:00:00+00',
                       to_char(m + interval '1 month', 'YYYY-MM-DD') || ' 00:00:00+00');
      END IF;
    END LOOP;
    m := (m + interval '1 month')::date;
  END LOOP;
END $$;

SELECT data_ensure_partitions((now() - interval '1 month')::date, (now() + interval '2 months')::date);
