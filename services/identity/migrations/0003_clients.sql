-- API clients (OAuth2 client credentials) and the keys their access tokens are signed with.
-- A client secret is never stored: only its scrypt hash (src/clients/client-secret.ts). A signing
-- key's private half is stored only wrapped (AES-256-GCM under a key derived from
-- IDENTITY_MASTER_KEY, src/clients/keys/key-wrap.ts) and destroyed when the key is retired.

-- status: 1 active, 2 revoked (ClientStatus in clients.proto).
CREATE TABLE api_clients (
  client_id            text        PRIMARY KEY CHECK (client_id ~ '^cb_[a-z2-7]{24}$'),
  -- Internal surrogate id: the resource id the idempotency record of CreateClient points to.
  internal_id          uuid        NOT NULL UNIQUE,
  name                 text        NOT NULL CHECK (char_length(name) BETWEEN 1 AND 200),
  scopes               text[]      NOT NULL CHECK (cardinality(scopes) >= 1),
  operator_ids         uuid[]      NOT NULL DEFAULT '{}',
  project_ids          uuid[]      NOT NULL DEFAULT '{}',
  status               smallint    NOT NULL CHECK (status IN (1, 2)),
  secret_hash          text        NOT NULL CHECK (secret_hash LIKE 'scrypt$%'),
  secret_rotated_at    timestamptz,
  revoked_at           timestamptz,
  revoke_reason        text,
  -- NULL only for the bootstrap admin client created by `admin.js init-city`. Not a foreign key:
  -- the creator is whoever the verified token names.
  created_by_client_id text,
  created_at           timestamptz NOT NULL DEFAULT clock_timestamp(),
  CHECK ((status = 2) = (revoked_at IS NOT NULL)),
  CHECK ((status = 2) = (revoke_reason IS NOT NULL))
);
CREATE INDEX api_clients_page ON api_clients (created_at, client_id);
-- At most one active bootstrap admin: two concurrent `init-city` runs cannot both create one.
CREATE UNIQUE INDEX api_clients_one_bootstrap ON api_clients ((true))
  WHERE created_by_client_id IS NULL AND status = 1;

-- state: next (published in the JWKS, not yet signing), current (signing), retired (published until
-- every token it signed has expired; private half destroyed).
CREATE TABLE signing_keys (
  kid             text        PRIMARY KEY,
  public_jwk      jsonb       NOT NULL,
  private_key_enc bytea,
  state           text        NOT NULL CHECK (state IN ('next', 'current', 'retired')),
  created_at      timestamptz NOT NULL DEFAULT clock_timestamp(),
  activated_at    timestamptz,
  retired_at      timestamptz,
  CHECK ((state = 'next') = (activated_at IS NULL)),
  CHECK ((state = 'retired') = (retired_at IS NOT NULL)),
  CHECK ((state = 'retired') = (private_key_enc IS NULL))
);
-- One current and one next key at any time, whatever several identity processes do at once.
CREATE UNIQUE INDEX signing_keys_one_current ON signing_keys (state) WHERE state = 'current';
CREATE UNIQUE INDEX signing_keys_one_next ON signing_keys (state) WHERE state = 'next';

-- One row per RotateSigningKey: what an idempotent replay answers.
CREATE TABLE signing_key_rotations (
  rotation_id  uuid        PRIMARY KEY,
  kid          text        NOT NULL REFERENCES signing_keys,
  previous_kid text        NOT NULL REFERENCES signing_keys,
  rotated_at   timestamptz NOT NULL DEFAULT clock_timestamp()
);
