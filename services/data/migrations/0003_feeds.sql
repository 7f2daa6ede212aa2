-- Government feeds (docs/data.md "Catalog", "Grants", "Feeds", "Access log"; ADR 0011).

-- The catalog: tables of the data store offered as datasets (DCAT-style), with their fields.
CREATE TABLE datasets (
  dataset_id text PRIMARY KEY,
  title text NOT NULL,
  description text NOT NULL DEFAULT '',
  source_table text NOT NULL,
  owner text NOT NULL,
  update_frequency text NOT NULL,
  has_operator boolean NOT NULL,
  has_project boolean NOT NULL,
  has_district boolean NOT NULL,
  version bigint NOT NULL DEFAULT 1,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE dataset_fields (
  dataset_id text NOT NULL REFERENCES datasets ON DELETE CASCADE,
  name text NOT NULL,
  position int NOT NULL,
  type text NOT NULL,
  classification text NOT NULL CHECK (classification IN ('UNSPECIFIED', 'PUBLIC', 'INTERNAL', 'PERSONAL', 'SENSITIVE')),
  description text NOT NULL DEFAULT '',
  free_text boolean NOT NULL DEFAULT false,
  -- [{kind, rows}] of the last PII scan
  pii_findings jsonb NOT NULL DEFAULT '[]',
  -- PII found in a field not classified personal or sensitive: blocked until ClassifyField
  pii_review boolean NOT NULL DEFAULT false,
  PRIMARY KEY (dataset_id, name)
);

-- Grants of datasets to agencies. `salt` keys the HASH masking of this grant only.
CREATE TABLE grants (
  grant_id uuid PRIMARY KEY,
  operator_id text NOT NULL DEFAULT '',
  project_id text NOT NULL DEFAULT '',
  agency_id text NOT NULL,
  agency_client_id text NOT NULL,
  datasets jsonb NOT NULL,
  row_filter jsonb NOT NULL,
  purpose text NOT NULL,
  valid_from timestamptz NOT NULL,
  valid_until timestamptz NOT NULL CHECK (valid_until > valid_from),
  quota_rows_per_day bigint NOT NULL CHECK (quota_rows_per_day > 0),
  status text NOT NULL CHECK (status IN ('ACTIVE', 'REVOKED')),
  version bigint NOT NULL DEFAULT 1,
  salt text NOT NULL,
  created_by text NOT NULL,
  -- milliseconds: the list's page tokens carry it
  created_at timestamptz NOT NULL DEFAULT date_trunc('milliseconds', now()),
  revoked_at timestamptz,
  revoke_reason text NOT NULL DEFAULT ''
);
CREATE INDEX grants_by_agency ON grants (agency_client_id, created_at DESC);
CREATE INDEX grants_by_operator ON grants (operator_id, created_at DESC);

-- Rows served per grant and UTC day (the quota).
CREATE TABLE grant_usage (
  grant_id uuid NOT NULL REFERENCES grants,
  day date NOT NULL,
  rows bigint NOT NULL,
  PRIMARY KEY (grant_id, day)
);

-- Pulls: opened (logged before any row is served), then closed with manifest and evidence.
CREATE TABLE pulls (
  pull_id uuid PRIMARY KEY,
  grant_id uuid NOT NULL REFERENCES grants,
  client_id text NOT NULL,
  dataset_id text NOT NULL,
  opened_seq bigint NOT NULL,
  closed_seq bigint,
  manifest jsonb,
  evidence jsonb,
  created_at timestamptz NOT NULL DEFAULT now()
);

-- The access log: append-only, hash-chained, one writer at a time (advisory lock in the store).
CREATE TABLE access_log (
  seq bigint PRIMARY KEY CHECK (seq > 0),
  at timestamptz NOT NULL,
  kind text NOT NULL,
  -- canonical JSON (sorted keys) of the entry's body, exactly as hashed
  body text NOT NULL,
  prev_hash text NOT NULL,
  hash text NOT NULL UNIQUE
);

-- Signed Merkle checkpoints over the first tree_size entries.
CREATE TABLE access_log_checkpoints (
  tree_size bigint PRIMARY KEY,
  root text NOT NULL,
  key_id text NOT NULL,
  signature text NOT NULL,
  signed_at timestamptz NOT NULL DEFAULT now()
);

CREATE FUNCTION access_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'the access log is append-only (% refused)', TG_OP;
END $$;
CREATE TRIGGER access_log_append_only BEFORE UPDATE OR DELETE ON access_log
  FOR EACH ROW EXECUTE FUNCTION access_log_append_only();
CREATE TRIGGER access_log_no_truncate BEFORE TRUNCATE ON access_log
  FOR EACH STATEMENT EXECUTE FUNCTION access_log_append_only();
CREATE TRIGGER access_log_checkpoints_append_only BEFORE UPDATE OR DELETE ON access_log_checkpoints
  FOR EACH ROW EXECUTE FUNCTION access_log_append_only();
