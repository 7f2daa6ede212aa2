import type { Pool, PoolClient } from 'pg';

type Db = Pool | PoolClient;

export const CLIENT_ACTIVE = 1;
export const CLIENT_REVOKED = 2;

/** An API client as stored, without its secret hash. */
export interface ClientRow {
  client_id: string;
  internal_id: string;
  name: string;
  scopes: string[];
  operator_ids: string[];
  project_ids: string[];
  status: number;
  secret_rotated_at: Date | null;
  revoked_at: Date | null;
  revoke_reason: string | null;
  created_by_client_id: string | null;
  created_at: Date;
}

const COLUMNS = `c.client_id, c.internal_id, c.name, c.scopes, c.operator_ids::text[] AS operator_ids,
  c.project_ids::text[] AS project_ids, c.status, c.secret_rotated_at, c.revoked_at, c.revoke_reason,
  c.created_by_client_id, c.created_at`;

/**
 * Whose clients a caller sees: every client (an unrestricted city admin), or the clients whose
 * tenancy lies inside these operators and projects. The service builds it from the caller's claims:
 * the caller's operators, and the caller's projects with every project of the caller's operators
 * (read through TenancyService).
 */
export type ClientVisibility = { all: true } | { all: false; operatorIds: string[]; projectIds: string[] };

/**
 * SQL condition (on alias `c`) "this client's tenancy lies inside `vis`", with its parameters
 * numbered from `firstParam`. A whole-city client is never inside a restricted caller; otherwise all
 * its operators and all its projects must be among the visible ones. The same rule as
 * assertTenancyInside in clients.domain.ts, applied to stored clients.
 */
function visibleTo(vis: ClientVisibility, firstParam: number): { sql: string; params: unknown[] } {
  if (vis.all) return { sql: 'true', params: [] };
  return {
    sql: `(cardinality(c.operator_ids) + cardinality(c.project_ids) > 0
      AND c.operator_ids <@ $${firstParam}::uuid[]
      AND c.project_ids <@ $${firstParam + 1}::uuid[])`,
    params: [vis.operatorIds, vis.projectIds],
  };
}

export async function findVisibleClient(
  db: Db,
  vis: ClientVisibility,
  clientId: string,
  opts: { forUpdate?: boolean } = {},
): Promise<ClientRow | undefined> {
  const visible = visibleTo(vis, 2);
  const { rows } = await db.query<ClientRow>(
    `SELECT ${COLUMNS} FROM api_clients c WHERE c.client_id = $1 AND ${visible.sql}
     ${opts.forUpdate ? 'FOR UPDATE OF c' : ''}`,
    [clientId, ...visible.params],
  );
  return rows[0];
}

export async function findClientByInternalId(db: Db, internalId: string): Promise<ClientRow | undefined> {
  const { rows } = await db.query<ClientRow>(
    `SELECT ${COLUMNS} FROM api_clients c WHERE c.internal_id = $1`,
    [internalId],
  );
  return rows[0];
}

/** Oldest first, keyset-paged after the client `after` (which must exist). */
export async function listVisibleClients(
  db: Db,
  vis: ClientVisibility,
  limit: number,
  after: string | undefined,
): Promise<ClientRow[]> {
  const visible = visibleTo(vis, 3);
  const { rows } = await db.query<ClientRow>(
    `SELECT ${COLUMNS} FROM api_clients c
      WHERE ($2::text IS NULL
             OR (c.created_at, c.client_id) > (SELECT a.created_at, a.client_id FROM api_clients a WHERE a.client_id = $2))
        AND ${visible.sql}
      ORDER BY c.created_at, c.client_id
      LIMIT $1`,
    [limit, after ?? null, ...visible.params],
  );
  return rows;
}

export async function clientExists(db: Db, clientId: string): Promise<boolean> {
  const { rowCount } = await db.query('SELECT 1 FROM api_clients WHERE client_id = $1', [clientId]);
  return rowCount === 1;
}

export interface NewClient {
  clientId: string;
  internalId: string;
  name: string;
  scopes: string[];
  operatorIds: string[];
  projectIds: string[];
  secretHash: string;
  createdByClientId: string | null;
}

export async function insertClient(client: PoolClient, c: NewClient): Promise<ClientRow> {
  const { rows } = await client.query<ClientRow>(
    `INSERT INTO api_clients AS c (client_id, internal_id, name, scopes, operator_ids, project_ids, status,
                                   secret_hash, created_by_client_id)
     VALUES ($1, $2, $3, $4, $5, $6, ${CLIENT_ACTIVE}, $7, $8)
     RETURNING ${COLUMNS}`,
    [
      c.clientId,
      c.internalId,
      c.name,
      c.scopes,
      c.operatorIds,
      c.projectIds,
      c.secretHash,
      c.createdByClientId,
    ],
  );
  return rows[0] as ClientRow;
}

export async function updateSecretHash(
  client: PoolClient,
  clientId: string,
  secretHash: string,
): Promise<ClientRow> {
  const { rows } = await client.query<ClientRow>(
    `UPDATE api_clients c SET secret_hash = $2, secret_rotated_at = clock_timestamp()
      WHERE c.client_id = $1 RETURNING ${COLUMNS}`,
    [clientId, secretHash],
  );
  return rows[0] as ClientRow;
}

export async function markRevoked(client: PoolClient, clientId: string, reason: string): Promise<ClientRow> {
  const { rows } = await client.query<ClientRow>(
    `UPDATE api_clients c SET status = ${CLIENT_REVOKED}, revoked_at = clock_timestamp(), revoke_reason = $2
      WHERE c.client_id = $1 RETURNING ${COLUMNS}`,
    [clientId, reason],
  );
  return rows[0] as ClientRow;
}

/** What token issuance needs: credentials check, status, scopes and tenancy. */
export interface ClientCredentialsRow {
  client_id: string;
  scopes: string[];
  operator_ids: string[];
  project_ids: string[];
  status: number;
  secret_hash: string;
}

/**
 * The credentials rows of these clients (those that exist, in no particular order). On the path of
 * every token: the arrays come as JSON, which JSON.parse reads natively; pg's text[] parser built
 * each element a character at a time (a tenth of an issuance's allocations for a client holding
 * every scope, docs/performance.md).
 */
export async function findClientCredentials(
  db: Db,
  clientIds: readonly string[],
): Promise<ClientCredentialsRow[]> {
  const { rows } = await db.query<ClientCredentialsRow>(
    `SELECT client_id, to_json(scopes) AS scopes, to_json(operator_ids) AS operator_ids,
            to_json(project_ids) AS project_ids, status, secret_hash
       FROM api_clients WHERE client_id = ANY($1::text[])`,
    [clientIds],
  );
  return rows;
}

/**
 * Replaces a secret hash with another form of the same secret (a legacy scrypt hash with the HMAC
 * form, after the secret matched it). Only if the row still holds `fromHash`: a rotation that
 * committed meanwhile is never overwritten. Not a rotation: secret_rotated_at stays. True if written.
 */
export async function upgradeSecretHash(
  db: Db,
  clientId: string,
  fromHash: string,
  toHash: string,
): Promise<boolean> {
  const { rowCount } = await db.query(
    'UPDATE api_clients SET secret_hash = $3 WHERE client_id = $1 AND secret_hash = $2',
    [clientId, fromHash, toHash],
  );
  return rowCount === 1;
}

/** The active bootstrap admin client (created by init-city), if any. */
export async function findActiveBootstrapAdmin(db: Db): Promise<string | undefined> {
  const { rows } = await db.query<{ client_id: string }>(
    `SELECT client_id FROM api_clients WHERE created_by_client_id IS NULL AND status = ${CLIENT_ACTIVE}`,
  );
  return rows[0]?.client_id;
}
