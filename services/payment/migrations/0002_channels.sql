-- Payment channels: the city's catalog, each project's account at a channel and its routing rules
-- (src/channels/). The enum columns hold the proto values (ChannelKind, PaymentScenario).

-- The city's catalog. kind: ChannelKind (1 sandbox, 2 WeChat Pay, 3 Alipay, 4 UnionPay, 5 local bank,
-- 6 wallet); only kinds with an adapter in the running build can be registered or enabled, which the
-- use case checks (a new kind needs code, not a migration).
CREATE TABLE channels (
  channel_id   text        PRIMARY KEY CHECK (channel_id ~ '^[a-z0-9-]{1,40}$'),
  kind         smallint    NOT NULL CHECK (kind > 0),
  display_name text        NOT NULL CHECK (char_length(display_name) BETWEEN 1 AND 100),
  endpoint     text        NOT NULL CHECK (char_length(endpoint) <= 500 AND endpoint ~ '^https?://'),
  enabled      boolean     NOT NULL DEFAULT true,
  created_at   timestamptz NOT NULL DEFAULT clock_timestamp(),
  updated_at   timestamptz NOT NULL DEFAULT clock_timestamp()
);

-- A project's account at a channel. credentials_enc is the merchant key sealed with AES-256-GCM
-- under HKDF-SHA256(PAYMENT_CREDENTIALS_KEY, salt empty, info "citybase payment channel credentials
-- v1", 32 bytes), with "<project_id> NUL <channel_id>" as additional data, so a value copied onto
-- another row does not open. Layout: version(1) | iv(12) | tag(16) | ciphertext
-- (src/channels/channel-credentials.ts). The key never appears in clear in the database.
-- All rows of one project carry the same operator_id (the first configuration's; checked by the use
-- case under a per-project advisory lock).
CREATE TABLE project_channels (
  operator_id     text        NOT NULL,
  project_id      text        NOT NULL,
  channel_id      text        NOT NULL REFERENCES channels,
  merchant_no     text        NOT NULL CHECK (char_length(merchant_no) BETWEEN 1 AND 64),
  credentials_enc bytea       NOT NULL CHECK (octet_length(credentials_enc) > 29),
  enabled         boolean     NOT NULL,
  created_at      timestamptz NOT NULL DEFAULT clock_timestamp(),
  updated_at      timestamptz NOT NULL DEFAULT clock_timestamp(),
  PRIMARY KEY (project_id, channel_id)
);
CREATE INDEX project_channels_operator ON project_channels (operator_id, project_id);

-- A project's routing rules in the order they were given (position 0..n-1); replaced as a whole.
-- scenarios: PaymentScenario values, empty = every scenario. max_amount_minor 0 = no upper bound.
CREATE TABLE routing_rules (
  project_id       text     NOT NULL,
  position         smallint NOT NULL CHECK (position >= 0),
  channel_id       text     NOT NULL,
  priority         integer  NOT NULL CHECK (priority BETWEEN 0 AND 1000),
  weight           integer  NOT NULL CHECK (weight BETWEEN 1 AND 10000),
  scenarios        smallint[] NOT NULL DEFAULT '{}',
  min_amount_minor bigint   NOT NULL CHECK (min_amount_minor >= 0),
  max_amount_minor bigint   NOT NULL CHECK (max_amount_minor >= 0),
  PRIMARY KEY (project_id, position),
  FOREIGN KEY (project_id, channel_id) REFERENCES project_channels (project_id, channel_id),
  CHECK (max_amount_minor = 0 OR min_amount_minor <= max_amount_minor)
);

-- Idempotency of the channel RPCs: request ids are a namespace per API client (claims.sub) and
-- method. fingerprint tells a retry from a different request with the same key (for
-- ConfigureProjectChannel it is keyed, so it is no hash of the credentials an attacker could test
-- guesses against). response is the encoded proto answer a retry gets again; it is set in the same
-- transaction as the key row, so a committed row always has one.
CREATE TABLE channel_request_keys (
  client_id   text        NOT NULL,
  method      text        NOT NULL,
  request_id  text        NOT NULL,
  fingerprint text        NOT NULL,
  response    bytea,
  created_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
  PRIMARY KEY (client_id, method, request_id)
);
