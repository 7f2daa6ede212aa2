import { randomUUID } from 'node:crypto';
import type { PoolClient } from 'pg';
import { DomainError } from '../errors';
import { requestFingerprint } from '../validation/validate';

export interface IdempotencyKey {
  /** The calling API client (claims.sub): request ids are a per-client namespace. */
  clientId: string;
  /** The RPC, e.g. "TenancyService.CreateProject". */
  method: string;
  requestId: string;
  /** The validated command; the same key with a different command is refused. */
  command: unknown;
}

/**
 * Needs the service's table (in its own migrations):
 *   CREATE TABLE idempotency_keys (client_id text, method text, request_id text, fingerprint text NOT NULL,
 *     resource_id uuid NOT NULL, created_at timestamptz NOT NULL DEFAULT now(),
 *     PRIMARY KEY (client_id, method, request_id));
 *
 * Runs `create(newId)` at most once per (client, method, request id), inside the caller's
 * transaction. The key row is inserted first with the id of the resource about to be created; a
 * concurrent request with the same key blocks on that row until the first commits (then replays) or
 * rolls back (then creates). A replay returns the stored resource id, so the caller re-reads the
 * resource and renders it for the current caller (masking depends on the caller's scopes).
 */
export async function onceByRequestId(
  client: PoolClient,
  key: IdempotencyKey,
  create: (resourceId: string) => Promise<void>,
): Promise<{ resourceId: string; replayed: boolean }> {
  const fingerprint = requestFingerprint(key.command);
  const resourceId = randomUUID();
  const inserted = await client.query(
    `INSERT INTO idempotency_keys (client_id, method, request_id, fingerprint, resource_id)
     VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING`,
    [key.clientId, key.method, key.requestId, fingerprint, resourceId],
  );
  if (inserted.rowCount === 1) {
    await create(resourceId);
    return { resourceId, replayed: false };
  }
  const { rows } = await client.query<{ fingerprint: string; resource_id: string }>(
    `SELECT fingerprint, resource_id FROM idempotency_keys
      WHERE client_id = $1 AND method = $2 AND request_id = $3`,
    [key.clientId, key.method, key.requestId],
  );
  const previous = rows[0];
  if (!previous) throw DomainError.requestInFlight();
  if (previous.fingerprint !== fingerprint) throw DomainError.requestIdReused();
  return { resourceId: previous.resource_id, replayed: true };
}
