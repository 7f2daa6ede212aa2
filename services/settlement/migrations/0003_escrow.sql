-- Escrow: orders held until completion, split rules, refunds (with the split-return saga), the
-- instructions settlement sends payment for the channel, and tax records (docs/settlement-escrow.md).
-- Every row here changes in the same transaction as the ledger posting it belongs to, so the
-- orders' view and the ledger's view of the money never drift apart (the invariant checker in
-- src/ledger/invariants.ts compares them).

-- How a project splits a completed order; merchant_category '' is the project's default. A project
-- without any rule uses the built-in default (0 bp commission, property share and tax; 24 h).
CREATE TABLE split_rules (
  operator_id        text        NOT NULL,
  project_id         text        NOT NULL,
  merchant_category  text        NOT NULL DEFAULT '',
  commission_bps     integer     NOT NULL CHECK (commission_bps BETWEEN 0 AND 3000),
  property_share_bps integer     NOT NULL CHECK (property_share_bps BETWEEN 0 AND 5000),
  tax_bps            integer     NOT NULL CHECK (tax_bps BETWEEN 0 AND 2000),
  auto_confirm_hours integer     NOT NULL CHECK (auto_confirm_hours BETWEEN 1 AND 720),
  updated_by         text        NOT NULL,
  updated_at         timestamptz NOT NULL DEFAULT clock_timestamp(),
  PRIMARY KEY (operator_id, project_id, merchant_category),
  CHECK (commission_bps + property_share_bps + tax_bps <= 10000)
);

-- One per succeeded payment (order_id = payment id).
--   status                1 held, 2 disputed, 3 completed, 4 refunded (EscrowStatus)
--   channel_split_status  1 not needed, 2 held, 3 pending, 4 split, 5 failed (ChannelSplitStatus)
-- Money columns, all in minor units of `currency`:
--   held = paid - released - refunded: what the project's escrow account holds for the order;
--   released: what went to the split (less what refunds after completion took back from it);
--   refund_pending: reserved by refunds through the channel that have not been answered yet.
-- The split parts (merchant/property/commission/tax _minor) are fixed at completion; the
-- *_refunded_minor columns are what refunds after completion took back from each part.
CREATE TABLE escrow_orders (
  order_id                  uuid        PRIMARY KEY,
  operator_id               text        NOT NULL,
  project_id                text        NOT NULL,
  merchant_id               text        NOT NULL,
  merchant_category         text        NOT NULL DEFAULT '',
  payer_ref                 text        NOT NULL DEFAULT '',
  channel_id                text        NOT NULL DEFAULT '',
  channel_transaction_id    text        NOT NULL DEFAULT '',
  currency                  char(3)     NOT NULL,
  status                    smallint    NOT NULL CHECK (status BETWEEN 1 AND 4),
  paid_minor                bigint      NOT NULL CHECK (paid_minor > 0),
  released_minor            bigint      NOT NULL DEFAULT 0 CHECK (released_minor >= 0),
  refunded_minor            bigint      NOT NULL DEFAULT 0 CHECK (refunded_minor >= 0),
  held_minor                bigint      NOT NULL,
  refund_pending_minor      bigint      NOT NULL DEFAULT 0 CHECK (refund_pending_minor >= 0),
  profit_sharing            boolean     NOT NULL,
  channel_split_status      smallint    NOT NULL CHECK (channel_split_status BETWEEN 1 AND 5),
  split_instruction_id      uuid        UNIQUE,
  split_failure_reason      text        NOT NULL DEFAULT '',
  paid_at                   timestamptz NOT NULL,
  auto_confirm_at           timestamptz NOT NULL,
  completed_at              timestamptz,
  -- "app", "auto_confirm", "dispute"
  completed_by              text        NOT NULL DEFAULT '',
  -- the rule applied at completion (rules apply to orders completed after they are set)
  rule_commission_bps       integer,
  rule_property_share_bps   integer,
  rule_tax_bps              integer,
  merchant_minor            bigint      NOT NULL DEFAULT 0 CHECK (merchant_minor >= 0),
  property_minor            bigint      NOT NULL DEFAULT 0 CHECK (property_minor >= 0),
  commission_minor          bigint      NOT NULL DEFAULT 0 CHECK (commission_minor >= 0),
  tax_minor                 bigint      NOT NULL DEFAULT 0 CHECK (tax_minor >= 0),
  merchant_refunded_minor   bigint      NOT NULL DEFAULT 0 CHECK (merchant_refunded_minor BETWEEN 0 AND merchant_minor),
  property_refunded_minor   bigint      NOT NULL DEFAULT 0 CHECK (property_refunded_minor BETWEEN 0 AND property_minor),
  commission_refunded_minor bigint      NOT NULL DEFAULT 0 CHECK (commission_refunded_minor BETWEEN 0 AND commission_minor),
  tax_refunded_minor        bigint      NOT NULL DEFAULT 0 CHECK (tax_refunded_minor BETWEEN 0 AND tax_minor),
  dispute_reason            text        NOT NULL DEFAULT '',
  disputed_at               timestamptz,
  -- "", "release", "refund", "partial"
  dispute_resolution        text        NOT NULL DEFAULT '',
  dispute_note              text        NOT NULL DEFAULT '',
  dispute_resolved_by       text        NOT NULL DEFAULT '',
  dispute_resolved_at       timestamptz,
  -- a resolution refunding through the channel waits for this refund (then completes the rest)
  resolution_refund_id      uuid,
  escrow_tx_id              uuid        NOT NULL,
  completion_tx_id          uuid,
  payment_event_id          uuid        NOT NULL,
  created_at                timestamptz NOT NULL DEFAULT clock_timestamp(),
  updated_at                timestamptz NOT NULL DEFAULT clock_timestamp(),
  CONSTRAINT escrow_orders_held CHECK (held_minor >= 0 AND held_minor = paid_minor - released_minor - refunded_minor),
  CONSTRAINT escrow_orders_refundable CHECK (refunded_minor + refund_pending_minor <= paid_minor),
  CONSTRAINT escrow_orders_split_sums CHECK (
    released_minor = (merchant_minor - merchant_refunded_minor) + (property_minor - property_refunded_minor)
                   + (commission_minor - commission_refunded_minor) + (tax_minor - tax_refunded_minor))
);
-- what the auto-confirm job scans
CREATE INDEX escrow_orders_due ON escrow_orders (auto_confirm_at) WHERE status = 1;
CREATE INDEX escrow_orders_tenancy ON escrow_orders (operator_id, project_id, created_at DESC, order_id DESC);
CREATE INDEX escrow_orders_status ON escrow_orders (status, created_at DESC, order_id DESC);

-- Refunds of orders and their saga state.
--   origin       "order" (RefundOrder), "dispute" (ResolveDispute), "payment" (a refund asked of
--                payment directly; settlement learns of it by RefundSucceeded without instruction)
--   destination  "original" (through the channel) or "wallet" (the payer's wallet)
--   after_split  the order was completed: the refund takes back the split parts (allocation below)
--   status       "returning_split": waiting for the channel's split returns (profit sharing);
--                "refunding": waiting for payment's RefundSucceeded / RefundFailed;
--                "succeeded", "failed" (final)
CREATE TABLE escrow_refunds (
  refund_id             uuid        PRIMARY KEY,
  order_id              uuid        NOT NULL REFERENCES escrow_orders,
  origin                text        NOT NULL CHECK (origin IN ('order', 'dispute', 'payment')),
  destination           text        NOT NULL CHECK (destination IN ('original', 'wallet')),
  after_split           boolean     NOT NULL,
  currency              char(3)     NOT NULL,
  amount_minor          bigint      NOT NULL CHECK (amount_minor > 0),
  merchant_minor        bigint      NOT NULL DEFAULT 0 CHECK (merchant_minor >= 0),
  property_minor        bigint      NOT NULL DEFAULT 0 CHECK (property_minor >= 0),
  commission_minor      bigint      NOT NULL DEFAULT 0 CHECK (commission_minor >= 0),
  tax_minor             bigint      NOT NULL DEFAULT 0 CHECK (tax_minor >= 0),
  status                text        NOT NULL CHECK (status IN ('returning_split', 'refunding', 'succeeded', 'failed')),
  refund_instruction_id uuid        UNIQUE,
  -- payment's refund id, for refunds settlement learnt of from RefundSucceeded
  payment_refund_id     text        UNIQUE,
  reason                text        NOT NULL DEFAULT '',
  failure_reason        text        NOT NULL DEFAULT '',
  requested_by          text        NOT NULL DEFAULT '',
  tx_id                 uuid,
  created_at            timestamptz NOT NULL DEFAULT clock_timestamp(),
  updated_at            timestamptz NOT NULL DEFAULT clock_timestamp(),
  completed_at          timestamptz,
  CHECK (NOT after_split OR merchant_minor + property_minor + commission_minor + tax_minor = amount_minor),
  CHECK (status <> 'succeeded' OR tx_id IS NOT NULL)
);
CREATE INDEX escrow_refunds_order ON escrow_refunds (order_id, created_at);

-- The instructions settlement sent payment (ChannelSplitRequested, ChannelSplitReturnRequested,
-- ChannelRefundRequested) and what came of them.
CREATE TABLE escrow_channel_instructions (
  instruction_id uuid        PRIMARY KEY,
  order_id       uuid        NOT NULL REFERENCES escrow_orders,
  kind           text        NOT NULL CHECK (kind IN ('split', 'split_return', 'refund')),
  refund_id      uuid        REFERENCES escrow_refunds,
  -- receiver at the channel (split_return)
  account        text        NOT NULL DEFAULT '',
  currency       char(3)     NOT NULL,
  amount_minor   bigint      NOT NULL CHECK (amount_minor > 0),
  status         text        NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'succeeded', 'failed')),
  failure_reason text        NOT NULL DEFAULT '',
  created_at     timestamptz NOT NULL DEFAULT clock_timestamp(),
  answered_at    timestamptz,
  CHECK (kind = 'split' OR refund_id IS NOT NULL)
);
CREATE INDEX escrow_channel_instructions_refund ON escrow_channel_instructions (refund_id) WHERE refund_id IS NOT NULL;

-- Per operator, merchant and month (YYYY-MM in UTC+8): completed turnover minus what was refunded
-- after completion (in the refund's month), the tax part of it, and the orders completed.
CREATE TABLE tax_records (
  operator_id            text        NOT NULL,
  merchant_id            text        NOT NULL,
  period                 char(7)     NOT NULL CHECK (period ~ '^[0-9]{4}-(0[1-9]|1[0-2])$'),
  currency               char(3)     NOT NULL,
  taxable_turnover_minor bigint      NOT NULL DEFAULT 0,
  tax_minor              bigint      NOT NULL DEFAULT 0,
  orders                 integer     NOT NULL DEFAULT 0 CHECK (orders >= 0),
  updated_at             timestamptz NOT NULL DEFAULT clock_timestamp(),
  PRIMARY KEY (operator_id, period, merchant_id, currency)
);
