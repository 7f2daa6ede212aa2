-- Client secrets are stored as a keyed hash, "hmac-sha256$v<key version>$<base64url>", under a key
-- derived from IDENTITY_MASTER_KEY (src/clients/client-secret.ts; reasoning in ADR 0005, "Client
-- secrets"). Rows written before hold a salted scrypt hash, "scrypt$..."; the token endpoint
-- rewrites each in the HMAC form the first time its secret matches, so both forms are allowed.
ALTER TABLE api_clients
  DROP CONSTRAINT api_clients_secret_hash_check,
  ADD CONSTRAINT api_clients_secret_hash_check
    CHECK (secret_hash LIKE 'hmac-sha256$v%$%' OR secret_hash LIKE 'scrypt$%');
