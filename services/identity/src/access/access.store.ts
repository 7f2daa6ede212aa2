import type { Pool, PoolClient } from '@citybase/platform';
import { GrantStatus } from '@citybase/contracts/citybase/identity/v1/access';
import type { Door } from './access.domain';

// SQL of the access feature: the door_grants table. Residents, households, buildings and units are
// read through PeopleService and TenancyService.

type Db = Pool | PoolClient;

export interface GrantRow {
  grant_id: string;
  operator_id: string;
  project_id: string;
  resident_id: string;
  building_id: string | null;
  unit_id: string | null;
  /** As seen now: EXPIRED is computed from valid_until, never stored. */
  status: GrantStatus;
  issued_by_staff_id: string;
  issued_at: Date;
  valid_until: Date | null;
  revoked_by_staff_id: string | null;
  revoked_at: Date | null;
}

const GRANT_COLUMNS = `g.grant_id, g.operator_id, g.project_id, g.resident_id, g.building_id, g.unit_id,
  CASE WHEN g.status = ${GrantStatus.GRANT_STATUS_ACTIVE} AND g.valid_until <= now()
       THEN ${GrantStatus.GRANT_STATUS_EXPIRED} ELSE g.status END AS status,
  g.issued_by_staff_id, g.issued_at, g.valid_until, g.revoked_by_staff_id, g.revoked_at`;

export async function insertGrant(
  client: PoolClient,
  row: {
    grantId: string;
    operatorId: string;
    projectId: string;
    residentId: string;
    door: Door;
    issuedByStaffId: string;
    validUntil: Date | null;
  },
): Promise<void> {
  await client.query(
    `INSERT INTO door_grants (grant_id, operator_id, project_id, resident_id, building_id, unit_id, status,
                              issued_by_staff_id, valid_until)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
    [
      row.grantId,
      row.operatorId,
      row.projectId,
      row.residentId,
      row.door.buildingId ?? null,
      row.door.unitId ?? null,
      GrantStatus.GRANT_STATUS_ACTIVE,
      row.issuedByStaffId,
      row.validUntil,
    ],
  );
}

export async function findGrant(db: Db, grantId: string): Promise<GrantRow | undefined> {
  const { rows } = await db.query<GrantRow>(
    `SELECT ${GRANT_COLUMNS} FROM door_grants g WHERE g.grant_id = $1`,
    [grantId],
  );
  return rows[0];
}

/** The grant, locked so that concurrent revocations serialize (the second sees it revoked). */
export async function lockGrant(client: PoolClient, grantId: string): Promise<GrantRow | undefined> {
  const { rows } = await client.query<GrantRow>(
    `SELECT ${GRANT_COLUMNS} FROM door_grants g WHERE g.grant_id = $1 FOR UPDATE`,
    [grantId],
  );
  return rows[0];
}

export async function revokeGrant(client: PoolClient, grantId: string, staffId: string): Promise<void> {
  await client.query(
    `UPDATE door_grants SET status = $2, revoked_by_staff_id = $3, revoked_at = clock_timestamp()
      WHERE grant_id = $1`,
    [grantId, GrantStatus.GRANT_STATUS_REVOKED, staffId],
  );
}

/**
 * The newest grant that opens this door right now: active, not past valid_until, held by one of
 * `residentIds` (a resident and the members of its household: family members share the household's
 * privileges). Read from the table on every call, so a revocation is refused from the moment it
 * commits.
 */
export async function findOpeningGrant(
  db: Db,
  residentIds: string[],
  door: Door,
): Promise<string | undefined> {
  const doorColumn = door.buildingId ? 'building_id' : 'unit_id';
  const { rows } = await db.query<{ grant_id: string }>(
    `SELECT g.grant_id FROM door_grants g
      WHERE g.resident_id = ANY($1::uuid[])
        AND g.${doorColumn} = $2
        AND g.status = $3
        AND (g.valid_until IS NULL OR g.valid_until > now())
      ORDER BY g.issued_at DESC, g.grant_id DESC
      LIMIT 1`,
    [residentIds, door.buildingId ?? door.unitId, GrantStatus.GRANT_STATUS_ACTIVE],
  );
  return rows[0]?.grant_id;
}

/** The grants held by `residentIds` (a resident and its household), newest first. */
export async function listGrants(db: Db, residentIds: string[]): Promise<GrantRow[]> {
  const { rows } = await db.query<GrantRow>(
    `SELECT ${GRANT_COLUMNS} FROM door_grants g
      WHERE g.resident_id = ANY($1::uuid[])
      ORDER BY g.issued_at DESC, g.grant_id DESC`,
    [residentIds],
  );
  return rows;
}
