-- Instructions settlement sends on its topic (ChannelSplitRequested, ChannelSplitReturnRequested,
-- ChannelRefundRequested) for payment to carry out at the channel, which only payment may call
-- (src/instructions/). The inbox handler only records an instruction here; splits and split returns
-- are carried out by the instruction executor, refunds by the refund machinery (refunds row with
-- this instruction_id). A final status is set once, in the transaction that writes the answer event.
--   kind    split | split_return | refund
--   status  pending | succeeded | failed
--   payload what settlement asked (amounts as strings of minor units), see instructions.domain.ts
--   result  what came of it: the channel's answer or the failure reason
CREATE TABLE channel_instructions (
  instruction_id  text        PRIMARY KEY CHECK (instruction_id <> ''),
  kind            text        NOT NULL CHECK (kind IN ('split', 'split_return', 'refund')),
  -- as settlement gave it: not a reference, the payment may not exist (PAYMENT_NOT_FOUND)
  payment_id      text        NOT NULL,
  operator_id     text        NOT NULL,
  project_id      text        NOT NULL,
  payload         jsonb       NOT NULL,
  status          text        NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'succeeded', 'failed')),
  -- channel calls tried (the executor's claims); next_attempt_at backs off while the channel gives no answer
  attempts        integer     NOT NULL DEFAULT 0,
  next_attempt_at timestamptz NOT NULL DEFAULT now(),
  -- the executor's lease, so that two processes never work on one instruction at once
  leased_until    timestamptz,
  last_error      text        NOT NULL DEFAULT '',
  result          jsonb,
  created_at      timestamptz NOT NULL DEFAULT now(),
  updated_at      timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT channel_instructions_final_result CHECK (status = 'pending' OR result IS NOT NULL)
);
-- What the executor scans: pending splits and split returns by when they are due.
CREATE INDEX channel_instructions_due ON channel_instructions (next_attempt_at)
  WHERE status = 'pending' AND kind IN ('split', 'split_return');
CREATE INDEX channel_instructions_payment ON channel_instructions (payment_id, created_at);

-- The settlement instruction a refund carries out ('' for refunds asked for over gRPC); such refunds
-- are requested under client_id 'settlement' with request_id = instruction_id.
ALTER TABLE refunds ADD COLUMN instruction_id text NOT NULL DEFAULT '';
CREATE UNIQUE INDEX refunds_instruction ON refunds (instruction_id) WHERE instruction_id <> '';
