-- Request keys of the use-case pipeline (libs/platform/src/usecase/mutations.ts), one table in every
-- service database: request ids are a namespace per calling API client (claims.sub) and method;
-- fingerprint tells a retry (same request) from another request reusing the key; resource_id is
-- what the first request created or changed (a UUID or another id the command named).
-- identity and settlement defined this table in their own first migrations before; those
-- definitions moved here (their files declare the replaced checksums), so on such a database the
-- table exists already and only its resource_id widens to text.
CREATE TABLE IF NOT EXISTS idempotency_keys (
  client_id   text        NOT NULL,
  method      text        NOT NULL,
  request_id  text        NOT NULL,
  fingerprint text        NOT NULL,
  resource_id text        NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (client_id, method, request_id)
);
ALTER TABLE idempotency_keys ALTER COLUMN resource_id TYPE text;
