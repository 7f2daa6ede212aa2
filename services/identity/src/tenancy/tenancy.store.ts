import type { Pool, PoolClient } from '@citybase/platform';
import type { SealedPii } from '../shared/pii';
import type {
  CreateAgencyCommand,
  CreateBuildingCommand,
  CreateOperatorCommand,
  CreateProjectCommand,
  CreateUnitCommand,
  Page,
  RegisterMerchantCommand,
  Visibility,
} from './tenancy.domain';

// SQL of the tenancy feature. Lists are keyset-paginated on (created_at, id); `cursor_at` is
// created_at rendered with its full microsecond precision (a JS Date keeps only milliseconds, which
// would repeat or skip rows at a page boundary).

type Db = Pool | PoolClient;

const CURSOR_AT = `to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS cursor_at`;

export interface OperatorRow {
  operator_id: string;
  name: string;
  created_at: Date;
  cursor_at: string;
}

export interface ProjectRow {
  project_id: string;
  operator_id: string;
  name: string;
  kind: number;
  created_at: Date;
  cursor_at: string;
}

export interface BuildingRow {
  building_id: string;
  project_id: string;
  operator_id: string;
  name: string;
  created_at: Date;
  cursor_at: string;
}

export interface UnitRow {
  unit_id: string;
  building_id: string;
  project_id: string;
  operator_id: string;
  name: string;
  floor: number;
  created_at: Date;
}

export interface AgencyRow {
  agency_id: string;
  name: string;
  kind: number;
  created_at: Date;
  cursor_at: string;
}

export interface StaffRow {
  staff_id: string;
  operator_id: string;
  project_id: string | null;
  role: number;
  active: boolean;
}

export interface MerchantRow {
  merchant_id: string;
  operator_id: string;
  project_id: string;
  name: string;
  status: number;
  location: string;
  unit_id: string | null;
  owner_name: string;
  owner_id_number_enc: Buffer;
  owner_id_number_masked: string;
  contact_phone_enc: Buffer;
  contact_phone_masked: string;
  lease_ref: string;
  business_scope: string;
  photo_refs: string[];
  registered_by_staff_id: string;
  status_reason: string;
  status_changed_at: Date | null;
  created_at: Date;
  cursor_at: string;
}

/** SQL condition and parameters narrowing rows to what `vis` allows, numbering params from `next`. */
function visible(
  vis: Visibility,
  next: number,
  opts: { hasProject: boolean },
): { sql: string; params: unknown[] } {
  if (vis.all) return { sql: 'true', params: [] };
  if (!opts.hasProject) return { sql: `operator_id = ANY($${next}::uuid[])`, params: [vis.operatorIds] };
  return {
    sql: `(operator_id = ANY($${next}::uuid[]) OR project_id = ANY($${next + 1}::uuid[]))`,
    params: [vis.operatorIds, vis.projectIds],
  };
}

/** Keyset condition after the page's cursor, numbering params from `next`. */
function after(page: Page, idColumn: string, next: number): { sql: string; params: unknown[] } {
  if (!page.after) return { sql: 'true', params: [] };
  return {
    sql: `(created_at, ${idColumn}) > ($${next}::timestamptz, $${next + 1}::uuid)`,
    params: [...page.after],
  };
}

async function listPage<R>(
  db: Db,
  table: string,
  idColumn: string,
  where: { sql: string; params: unknown[] }[],
  page: Page,
): Promise<R[]> {
  const params: unknown[] = [];
  const conditions: string[] = [];
  for (const w of where) {
    conditions.push(w.sql);
    params.push(...w.params);
  }
  params.push(page.size + 1);
  const { rows } = await db.query(
    `SELECT *, ${CURSOR_AT} FROM ${table}
      WHERE ${conditions.join(' AND ')}
      ORDER BY created_at, ${idColumn}
      LIMIT $${params.length}`,
    params,
  );
  return rows as R[];
}

// ---- operators -----------------------------------------------------------------------------------

export async function insertOperator(
  client: PoolClient,
  id: string,
  cmd: CreateOperatorCommand,
): Promise<OperatorRow> {
  const { rows } = await client.query<OperatorRow>(
    `INSERT INTO operators (operator_id, name) VALUES ($1, $2) RETURNING *, ${CURSOR_AT}`,
    [id, cmd.name],
  );
  return rows[0] as OperatorRow;
}

export async function findOperator(db: Db, id: string): Promise<OperatorRow | undefined> {
  const { rows } = await db.query<OperatorRow>(
    `SELECT *, ${CURSOR_AT} FROM operators WHERE operator_id = $1`,
    [id],
  );
  return rows[0];
}

export async function listOperators(db: Db, vis: Visibility, page: Page): Promise<OperatorRow[]> {
  const v = visible(vis, 1, { hasProject: false });
  return listPage(db, 'operators', 'operator_id', [v, after(page, 'operator_id', 1 + v.params.length)], page);
}

/** Operators among `ids` that exist (e.g. an API client's tenancy). */
export async function existingOperators(db: Db, ids: string[]): Promise<Set<string>> {
  if (ids.length === 0) return new Set();
  const { rows } = await db.query<{ operator_id: string }>(
    'SELECT operator_id::text FROM operators WHERE operator_id = ANY($1::uuid[])',
    [ids],
  );
  return new Set(rows.map((r) => r.operator_id));
}

/** project id -> operator id, for the projects among `ids` that exist. */
export async function projectOperators(db: Db, ids: string[]): Promise<Map<string, string>> {
  if (ids.length === 0) return new Map();
  const { rows } = await db.query<{ project_id: string; operator_id: string }>(
    'SELECT project_id::text, operator_id::text FROM projects WHERE project_id = ANY($1::uuid[])',
    [ids],
  );
  return new Map(rows.map((r) => [r.project_id, r.operator_id]));
}

// ---- projects ------------------------------------------------------------------------------------

export async function insertProject(
  client: PoolClient,
  id: string,
  cmd: CreateProjectCommand,
): Promise<ProjectRow> {
  const { rows } = await client.query<ProjectRow>(
    `INSERT INTO projects (project_id, operator_id, name, kind) VALUES ($1, $2, $3, $4) RETURNING *, ${CURSOR_AT}`,
    [id, cmd.operatorId, cmd.name, cmd.kind],
  );
  return rows[0] as ProjectRow;
}

export async function findProject(db: Db, id: string): Promise<ProjectRow | undefined> {
  const { rows } = await db.query<ProjectRow>(`SELECT *, ${CURSOR_AT} FROM projects WHERE project_id = $1`, [
    id,
  ]);
  return rows[0];
}

export async function listProjects(
  db: Db,
  operatorId: string,
  vis: Visibility,
  page: Page,
): Promise<ProjectRow[]> {
  const v = visible(vis, 2, { hasProject: true });
  const of = { sql: 'operator_id = $1', params: [operatorId] };
  return listPage(
    db,
    'projects',
    'project_id',
    [of, v, after(page, 'project_id', 2 + v.params.length)],
    page,
  );
}

// ---- buildings and units -------------------------------------------------------------------------

/** Inserts the building; undefined if the project already has a building of that name. */
export async function insertBuilding(
  client: PoolClient,
  id: string,
  project: ProjectRow,
  cmd: CreateBuildingCommand,
): Promise<BuildingRow | undefined> {
  const { rows } = await client.query<BuildingRow>(
    `INSERT INTO buildings (building_id, project_id, operator_id, name) VALUES ($1, $2, $3, $4)
     ON CONFLICT (project_id, name) DO NOTHING
     RETURNING *, ${CURSOR_AT}`,
    [id, project.project_id, project.operator_id, cmd.name],
  );
  return rows[0];
}

export async function findBuilding(db: Db, id: string): Promise<BuildingRow | undefined> {
  const { rows } = await db.query<BuildingRow>(
    `SELECT *, ${CURSOR_AT} FROM buildings WHERE building_id = $1`,
    [id],
  );
  return rows[0];
}

export async function listBuildings(
  db: Db,
  projectId: string,
  vis: Visibility,
  page: Page,
): Promise<BuildingRow[]> {
  const v = visible(vis, 2, { hasProject: true });
  const of = { sql: 'project_id = $1', params: [projectId] };
  return listPage(
    db,
    'buildings',
    'building_id',
    [of, v, after(page, 'building_id', 2 + v.params.length)],
    page,
  );
}

/** Inserts the unit; undefined if the building already has a unit of that name. */
export async function insertUnit(
  client: PoolClient,
  id: string,
  building: BuildingRow,
  cmd: CreateUnitCommand,
): Promise<UnitRow | undefined> {
  const { rows } = await client.query<UnitRow>(
    `INSERT INTO units (unit_id, building_id, project_id, operator_id, name, floor) VALUES ($1, $2, $3, $4, $5, $6)
     ON CONFLICT (building_id, name) DO NOTHING
     RETURNING *`,
    [id, building.building_id, building.project_id, building.operator_id, cmd.name, cmd.floor],
  );
  return rows[0];
}

export async function findUnit(db: Db, id: string): Promise<UnitRow | undefined> {
  const { rows } = await db.query<UnitRow>('SELECT * FROM units WHERE unit_id = $1', [id]);
  return rows[0];
}

/** The units of the given buildings, oldest first within each building. */
export async function unitsOf(db: Db, buildingIds: string[]): Promise<UnitRow[]> {
  if (buildingIds.length === 0) return [];
  const { rows } = await db.query<UnitRow>(
    'SELECT * FROM units WHERE building_id = ANY($1::uuid[]) ORDER BY building_id, created_at, unit_id',
    [buildingIds],
  );
  return rows;
}

// ---- agencies ------------------------------------------------------------------------------------

export async function insertAgency(
  client: PoolClient,
  id: string,
  cmd: CreateAgencyCommand,
): Promise<AgencyRow> {
  const { rows } = await client.query<AgencyRow>(
    `INSERT INTO agencies (agency_id, name, kind) VALUES ($1, $2, $3) RETURNING *, ${CURSOR_AT}`,
    [id, cmd.name, cmd.kind],
  );
  return rows[0] as AgencyRow;
}

export async function findAgency(db: Db, id: string): Promise<AgencyRow | undefined> {
  const { rows } = await db.query<AgencyRow>(`SELECT *, ${CURSOR_AT} FROM agencies WHERE agency_id = $1`, [
    id,
  ]);
  return rows[0];
}

export async function listAgencies(db: Db, page: Page): Promise<AgencyRow[]> {
  return listPage(db, 'agencies', 'agency_id', [after(page, 'agency_id', 1)], page);
}

// ---- staff (read only here: PeopleService owns the rows) -----------------------------------------

/**
 * The staff row, share-locked until the end of the transaction so that it cannot be deactivated
 * or moved while a merchant change that relies on it commits.
 */
export async function findStaffForShare(client: PoolClient, id: string): Promise<StaffRow | undefined> {
  const { rows } = await client.query<StaffRow>(
    'SELECT staff_id, operator_id, project_id, role, active FROM staff WHERE staff_id = $1 FOR SHARE',
    [id],
  );
  return rows[0];
}

// ---- merchants -----------------------------------------------------------------------------------

export async function insertMerchant(
  client: PoolClient,
  id: string,
  project: ProjectRow,
  cmd: RegisterMerchantCommand,
  sealed: { ownerIdNumber: SealedPii; contactPhone: SealedPii },
  status: number,
): Promise<MerchantRow> {
  const { rows } = await client.query<MerchantRow>(
    `INSERT INTO merchants (merchant_id, operator_id, project_id, name, status, location, unit_id, owner_name,
                            owner_id_number_enc, owner_id_number_hash, owner_id_number_masked,
                            contact_phone_enc, contact_phone_hash, contact_phone_masked,
                            lease_ref, business_scope, photo_refs, registered_by_staff_id)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)
     RETURNING *, ${CURSOR_AT}`,
    [
      id,
      project.operator_id,
      project.project_id,
      cmd.name,
      status,
      cmd.location,
      cmd.unitId,
      cmd.ownerName,
      sealed.ownerIdNumber.enc,
      sealed.ownerIdNumber.hash,
      sealed.ownerIdNumber.masked,
      sealed.contactPhone.enc,
      sealed.contactPhone.hash,
      sealed.contactPhone.masked,
      cmd.leaseRef,
      cmd.businessScope,
      cmd.photoRefs,
      cmd.registeredByStaffId,
    ],
  );
  return rows[0] as MerchantRow;
}

export async function findMerchant(db: Db, id: string): Promise<MerchantRow | undefined> {
  const { rows } = await db.query<MerchantRow>(
    `SELECT *, ${CURSOR_AT} FROM merchants WHERE merchant_id = $1`,
    [id],
  );
  return rows[0];
}

/** The merchant, locked for update until the end of the transaction (status changes serialize on it). */
export async function findMerchantForUpdate(
  client: PoolClient,
  id: string,
): Promise<MerchantRow | undefined> {
  const { rows } = await client.query<MerchantRow>(
    `SELECT *, ${CURSOR_AT} FROM merchants WHERE merchant_id = $1 FOR UPDATE`,
    [id],
  );
  return rows[0];
}

export async function updateMerchantStatus(
  client: PoolClient,
  id: string,
  status: number,
  reason: string,
): Promise<MerchantRow> {
  const { rows } = await client.query<MerchantRow>(
    `UPDATE merchants SET status = $2, status_reason = $3, status_changed_at = clock_timestamp()
      WHERE merchant_id = $1
      RETURNING *, ${CURSOR_AT}`,
    [id, status, reason],
  );
  return rows[0] as MerchantRow;
}

export async function listMerchants(
  db: Db,
  projectId: string,
  vis: Visibility,
  page: Page,
): Promise<MerchantRow[]> {
  const v = visible(vis, 2, { hasProject: true });
  const of = { sql: 'project_id = $1', params: [projectId] };
  return listPage(
    db,
    'merchants',
    'merchant_id',
    [of, v, after(page, 'merchant_id', 2 + v.params.length)],
    page,
  );
}
