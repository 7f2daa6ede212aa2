-- One idempotency mechanism: every mutating RPC of payment goes through the use-case pipeline
-- (libs/platform/src/usecase/mutations.ts, ADR 0007), whose request keys live in idempotency_keys
-- (platform migration 0003, applied before this one): (client_id = the caller's claims.sub,
-- method "PaymentService.<Rpc>", request_id) -> fingerprint of the validated command, resource_id.
-- It replaces payment's two mechanisms of its own: channel_request_keys (the channel RPCs, storing
-- the encoded first answer) and the request_hash columns with unique (client_id, request_id) on
-- payments and refunds. The keys those hold are carried over first, so that a retry sent before
-- this migration and arriving after it is still answered as a retry (now with the resource as it
-- is, per the pipeline's rule) and a reused key is still refused.
--
-- Fingerprints: request_hash and channel_request_keys.fingerprint were computed by the same
-- function the pipeline uses (requestFingerprint of @citybase/platform) over the same command
-- objects it now fingerprints (CreatePaymentCommand, RefundPaymentCommand, the channel commands;
-- for ConfigureProjectChannel the command with its credentials replaced by their keyed digest, as
-- before), so they are copied unchanged: an old retry replays, an old key with another request
-- gets REQUEST_ID_REUSED, exactly as before.

-- CreatePayment: the key's resource is the payment. Payments written before payment intents
-- (migration 0003: the RecordPayment RPC, whose command had no expiry or escrow choice) have
-- client_id '': no caller has that id, so no request can ever retry them; they get no key.
INSERT INTO idempotency_keys (client_id, method, request_id, fingerprint, resource_id, created_at)
SELECT client_id, 'PaymentService.CreatePayment', request_id, request_hash, payment_id::text, created_at
  FROM payments
 WHERE client_id <> ''
ON CONFLICT DO NOTHING;

-- RefundPayment: the key's resource is the refund. Refunds settlement instructed (instruction_id
-- set, client_id 'settlement', request_id = the instruction id) were never requested over gRPC and
-- get no key: they come from events, deduplicated by the inbox (event id), by channel_instructions
-- (instruction id) and by the unique refunds.instruction_id.
INSERT INTO idempotency_keys (client_id, method, request_id, fingerprint, resource_id, created_at)
SELECT client_id, 'PaymentService.RefundPayment', request_id, request_hash, refund_id::text, created_at
  FROM refunds
 WHERE instruction_id = ''
ON CONFLICT DO NOTHING;

-- The channel RPCs (method names were already "PaymentService.<Rpc>"). Their resource is named by
-- the command (the channel, "project/channel" or the project) and a replay reads it by the command,
-- which the matching fingerprint shows to be the first call's; channel_request_keys recorded only
-- the encoded answer, so the carried-over keys have resource_id '' (unknown, not needed to replay).
-- A committed key row always had its answer (set in the same transaction).
INSERT INTO idempotency_keys (client_id, method, request_id, fingerprint, resource_id, created_at)
SELECT client_id, method, request_id, fingerprint, '', created_at
  FROM channel_request_keys
 WHERE response IS NOT NULL
ON CONFLICT DO NOTHING;

DROP TABLE channel_request_keys;

-- Nothing reads a payment's client_id / request_id any more: the key table has them.
ALTER TABLE payments
  DROP CONSTRAINT payments_client_request_key,
  DROP COLUMN request_hash,
  DROP COLUMN client_id,
  DROP COLUMN request_id;

-- A refund keeps client_id / request_id as data, no key: who asked (the caller, or 'settlement' for
-- an instructed refund) and under which id (the request id, or the instruction id).
ALTER TABLE refunds
  DROP CONSTRAINT refunds_client_request_key,
  DROP COLUMN request_hash;
