import type { PoolClient } from '@citybase/platform';
import type { Queryable } from '../sql';
import type { GrantedDataset, IssueGrantCommand, RowFilter } from './grants.domain';

export interface GrantRow {
  grant_id: string;
  operator_id: string;
  project_id: string;
  agency_id: string;
  agency_client_id: string;
  datasets: GrantedDataset[];
  row_filter: RowFilter;
  purpose: string;
  valid_from: Date;
  valid_until: Date;
  quota_rows_per_day: string;
  status: 'ACTIVE' | 'REVOKED';
  version: string;
  salt: string;
  created_by: string;
  created_at: Date;
  revoked_at: Date | null;
  revoke_reason: string;
}

const COLUMNS = `grant_id, operator_id, project_id, agency_id, agency_client_id, datasets, row_filter, purpose,
  valid_from, valid_until, quota_rows_per_day::text, status, version::text, salt, created_by, created_at,
  revoked_at, revoke_reason`;

export async function insertGrant(
  client: PoolClient,
  grantId: string,
  cmd: IssueGrantCommand,
  salt: string,
  createdBy: string,
): Promise<GrantRow> {
  const { rows } = await client.query<GrantRow>(
    `INSERT INTO grants (grant_id, operator_id, project_id, agency_id, agency_client_id, datasets, row_filter,
                         purpose, valid_from, valid_until, quota_rows_per_day, status, salt, created_by)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 'ACTIVE', $12, $13)
     RETURNING ${COLUMNS}`,
    [
      grantId,
      cmd.operatorId,
      cmd.projectId,
      cmd.agencyId,
      cmd.agencyClientId,
      JSON.stringify(cmd.datasets),
      JSON.stringify(cmd.rowFilter),
      cmd.purpose,
      cmd.validFrom,
      cmd.validUntil,
      cmd.quotaRowsPerDay.toString(),
      salt,
      createdBy,
    ],
  );
  return rows[0]!;
}

export async function findGrant(
  client: Queryable,
  grantId: string,
  lock = false,
): Promise<GrantRow | undefined> {
  const { rows } = await client.query<GrantRow>(
    `SELECT ${COLUMNS} FROM grants WHERE grant_id = $1${lock ? ' FOR UPDATE' : ''}`,
    [grantId],
  );
  return rows[0];
}

export async function revokeGrant(client: PoolClient, grantId: string, reason: string): Promise<GrantRow> {
  const { rows } = await client.query<GrantRow>(
    `UPDATE grants SET status = 'REVOKED', revoked_at = now(), revoke_reason = $2, version = version + 1
      WHERE grant_id = $1 RETURNING ${COLUMNS}`,
    [grantId, reason],
  );
  return rows[0]!;
}

export async function listGrants(
  client: Queryable,
  q: {
    agencyId: string;
    all: boolean;
    operatorIds: string[];
    projectIds: string[];
    clientId: string;
    after: { createdAt: string; grantId: string } | undefined;
    size: number;
  },
): Promise<GrantRow[]> {
  const { rows } = await client.query<GrantRow>(
    `SELECT ${COLUMNS} FROM grants
      WHERE ($1 = '' OR agency_id = $1)
        AND ($2 OR (operator_id <> '' AND operator_id = ANY($3)) OR (project_id <> '' AND project_id = ANY($4))
             OR agency_client_id = $5)
        AND ($6::timestamptz IS NULL OR (created_at, grant_id) < ($6::timestamptz, $7::uuid))
      ORDER BY created_at DESC, grant_id DESC LIMIT $8`,
    [
      q.agencyId,
      q.all,
      q.operatorIds,
      q.projectIds,
      q.clientId,
      q.after?.createdAt ?? null,
      q.after?.grantId ?? null,
      q.size + 1,
    ],
  );
  return rows;
}
