import type { Pool, PoolClient } from '@citybase/platform';
import type { CourierCodeState, GrantView, ListRecordsQuery } from './access.domain';

/** All SQL of doors and couriers (migrations/0009_access.sql). */

type Db = Pool | PoolClient;

export interface DoorRow {
  device_id: string;
  operator_id: string;
  project_id: string;
  building_id: string | null;
  unit_id: string | null;
}

export interface RecordRow {
  record_id: string;
  operator_id: string;
  project_id: string;
  kind: 'RESIDENT' | 'COURIER';
  door_device_id: string;
  resident_id: string;
  grant_id: string;
  courier_id: string;
  unit_id: string;
  merchant_id: string;
  entered_at: Date;
  exited_at: Date | null;
  command_id: string;
  exit_command_id: string | null;
  created_at: Date;
}

export interface CodeRow {
  code_id: string;
  operator_id: string;
  project_id: string;
  courier_id: string;
  unit_id: string;
  building_id: string;
  resident_id: string;
  merchant_id: string;
  state: CourierCodeState;
  expires_at: Date;
  record_id: string | null;
}

// ---- identity's projection ----

export async function upsertUnit(
  client: PoolClient,
  u: { unitId: string; buildingId: string; projectId: string; operatorId: string },
) {
  await client.query(
    `INSERT INTO access_units (unit_id, building_id, project_id, operator_id) VALUES ($1, $2, $3, $4)
     ON CONFLICT (unit_id) DO NOTHING`,
    [u.unitId, u.buildingId, u.projectId, u.operatorId],
  );
}

export async function upsertHousehold(
  client: PoolClient,
  h: { householdId: string; unitId: string; projectId: string },
) {
  await client.query(
    `INSERT INTO access_households (household_id, unit_id, project_id) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING`,
    [h.householdId, h.unitId, h.projectId],
  );
}

export async function addHouseholdMember(client: PoolClient, householdId: string, residentId: string) {
  await client.query(
    `INSERT INTO access_household_members (household_id, resident_id) VALUES ($1, $2) ON CONFLICT DO NOTHING`,
    [householdId, residentId],
  );
}

export async function upsertCourier(
  client: PoolClient,
  c: { courierId: string; projectId: string; operatorId: string; employer: string },
) {
  await client.query(
    `INSERT INTO access_couriers (courier_id, project_id, operator_id, employer) VALUES ($1, $2, $3, $4)
     ON CONFLICT (courier_id) DO NOTHING`,
    [c.courierId, c.projectId, c.operatorId, c.employer],
  );
}

/** A grant as identity last told it; a revoked or expired grant never becomes active again. */
export async function upsertGrant(
  client: PoolClient,
  g: GrantView & { operatorId: string; projectId: string },
): Promise<void> {
  await client.query(
    `INSERT INTO access_grants (grant_id, operator_id, project_id, resident_id, building_id, unit_id, status, valid_until)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
     ON CONFLICT (grant_id) DO UPDATE SET status = EXCLUDED.status, valid_until = EXCLUDED.valid_until
      WHERE access_grants.status = 'ACTIVE'`,
    [g.grantId, g.operatorId, g.projectId, g.residentId, g.buildingId, g.unitId, g.status, g.validUntil],
  );
}

/** The resident and everyone sharing a household with them. */
export async function householdOf(db: Db, residentId: string): Promise<Set<string>> {
  const { rows } = await db.query<{ resident_id: string }>(
    `SELECT DISTINCT m2.resident_id FROM access_household_members m1
       JOIN access_household_members m2 ON m2.household_id = m1.household_id
      WHERE m1.resident_id = $1`,
    [residentId],
  );
  return new Set([residentId, ...rows.map((r) => r.resident_id)]);
}

export async function grantsOf(db: Db, residentIds: Set<string>): Promise<GrantView[]> {
  const { rows } = await db.query<{
    grant_id: string;
    resident_id: string;
    building_id: string | null;
    unit_id: string | null;
    status: GrantView['status'];
    valid_until: Date | null;
  }>(
    `SELECT grant_id, resident_id, building_id, unit_id, status, valid_until FROM access_grants
      WHERE resident_id = ANY($1::text[])`,
    [[...residentIds]],
  );
  return rows.map((r) => ({
    grantId: r.grant_id,
    residentId: r.resident_id,
    buildingId: r.building_id,
    unitId: r.unit_id,
    status: r.status,
    validUntil: r.valid_until,
  }));
}

export async function findUnit(db: Db, unitId: string) {
  const { rows } = await db.query<{ unit_id: string; building_id: string; project_id: string }>(
    'SELECT unit_id, building_id, project_id FROM access_units WHERE unit_id = $1',
    [unitId],
  );
  return rows[0];
}

export async function findCourier(db: Db, courierId: string) {
  const { rows } = await db.query<{ courier_id: string; project_id: string }>(
    'SELECT courier_id, project_id FROM access_couriers WHERE courier_id = $1',
    [courierId],
  );
  return rows[0];
}

/** Whether the resident belongs to a household of the unit. */
export async function livesIn(db: Db, residentId: string, unitId: string): Promise<boolean> {
  const { rows } = await db.query(
    `SELECT 1 FROM access_household_members m JOIN access_households h ON h.household_id = m.household_id
      WHERE m.resident_id = $1 AND h.unit_id = $2`,
    [residentId, unitId],
  );
  return rows.length > 0;
}

// ---- doors ----

export async function upsertDoor(client: PoolClient, d: DoorRow): Promise<DoorRow> {
  const { rows } = await client.query<DoorRow>(
    `INSERT INTO doors (device_id, operator_id, project_id, building_id, unit_id) VALUES ($1, $2, $3, $4, $5)
     ON CONFLICT (device_id) DO UPDATE SET building_id = EXCLUDED.building_id, unit_id = EXCLUDED.unit_id
     RETURNING device_id, operator_id, project_id, building_id, unit_id`,
    [d.device_id, d.operator_id, d.project_id, d.building_id, d.unit_id],
  );
  return rows[0] as DoorRow;
}

export async function findDoor(db: Db, deviceId: string): Promise<DoorRow | undefined> {
  const { rows } = await db.query<DoorRow>(
    'SELECT device_id, operator_id, project_id, building_id, unit_id FROM doors WHERE device_id = $1',
    [deviceId],
  );
  return rows[0];
}

// ---- records and codes ----

export async function insertRecord(
  client: PoolClient,
  r: Omit<RecordRow, 'exited_at' | 'exit_command_id' | 'created_at'>,
): Promise<RecordRow> {
  const { rows } = await client.query<RecordRow>(
    `INSERT INTO access_records (record_id, operator_id, project_id, kind, door_device_id, resident_id, grant_id,
                                 courier_id, unit_id, merchant_id, entered_at, command_id)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING *`,
    [
      r.record_id,
      r.operator_id,
      r.project_id,
      r.kind,
      r.door_device_id,
      r.resident_id,
      r.grant_id,
      r.courier_id,
      r.unit_id,
      r.merchant_id,
      r.entered_at,
      r.command_id,
    ],
  );
  return rows[0] as RecordRow;
}

export async function recordExit(
  client: PoolClient,
  recordId: string,
  at: Date,
  commandId: string,
): Promise<RecordRow> {
  const { rows } = await client.query<RecordRow>(
    `UPDATE access_records SET exited_at = $2, exit_command_id = $3 WHERE record_id = $1 RETURNING *`,
    [recordId, at, commandId],
  );
  return rows[0] as RecordRow;
}

export async function findRecord(db: Db, recordId: string): Promise<RecordRow | undefined> {
  const { rows } = await db.query<RecordRow>('SELECT * FROM access_records WHERE record_id = $1', [recordId]);
  return rows[0];
}

export async function insertCode(
  client: PoolClient,
  c: Omit<CodeRow, 'state' | 'record_id'> & { code_hash: string },
) {
  const r = await client.query(
    `INSERT INTO courier_codes (code_id, operator_id, project_id, courier_id, unit_id, building_id, resident_id,
                                merchant_id, code_hash, expires_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT (project_id, code_hash) DO NOTHING`,
    [
      c.code_id,
      c.operator_id,
      c.project_id,
      c.courier_id,
      c.unit_id,
      c.building_id,
      c.resident_id,
      c.merchant_id,
      c.code_hash,
      c.expires_at,
    ],
  );
  return r.rowCount === 1;
}

export async function findCode(db: Db, codeId: string): Promise<CodeRow | undefined> {
  const { rows } = await db.query<CodeRow>('SELECT * FROM courier_codes WHERE code_id = $1', [codeId]);
  return rows[0];
}

export async function lockCodeByHash(
  client: PoolClient,
  projectId: string,
  hash: string,
): Promise<CodeRow | undefined> {
  const { rows } = await client.query<CodeRow>(
    'SELECT * FROM courier_codes WHERE project_id = $1 AND code_hash = $2 FOR UPDATE',
    [projectId, hash],
  );
  return rows[0];
}

export async function moveCode(
  client: PoolClient,
  codeId: string,
  state: CourierCodeState,
  recordId: string,
) {
  await client.query('UPDATE courier_codes SET state = $2, record_id = $3 WHERE code_id = $1', [
    codeId,
    state,
    recordId,
  ]);
}

export type RecordListRow = RecordRow & { cursor_at: string };

export async function listRecords(db: Pool, q: ListRecordsQuery): Promise<RecordListRow[]> {
  const { rows } = await db.query<RecordListRow>(
    `SELECT *, to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS cursor_at
       FROM access_records
      WHERE project_id = $1 AND operator_id = $2 AND ($3 = '' OR door_device_id::text = $3)
        AND ($4::timestamptz IS NULL OR (created_at, record_id) < ($4::timestamptz, $5::uuid))
      ORDER BY created_at DESC, record_id DESC
      LIMIT $6`,
    [
      q.projectId,
      q.operatorId,
      q.deviceId,
      q.after?.createdAt ?? null,
      q.after?.recordId ?? null,
      q.size + 1,
    ],
  );
  return rows;
}
