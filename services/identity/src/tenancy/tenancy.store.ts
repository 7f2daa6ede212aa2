import type { PoolClient } from '@citybase/platform';
import type { Page, Visibility } from '../shared/rows.domain';
import { after, CURSOR_AT, Db, listPage, listPageUnder, visible } from '../shared/rows.store';
import type {
  CreateAgencyCommand,
  CreateBuildingCommand,
  CreateOperatorCommand,
  CreateProjectCommand,
  CreateUnitCommand,
} from './tenancy.domain';

// SQL of the tenancy feature: operators, projects, buildings, units and agencies (keyset lists:
// see ../shared/rows.store.ts).

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

/** The ids of every project of the given operators. */
export async function projectsOfOperators(db: Db, operatorIds: string[]): Promise<string[]> {
  if (operatorIds.length === 0) return [];
  const { rows } = await db.query<{ project_id: string }>(
    'SELECT project_id::text FROM projects WHERE operator_id = ANY($1::uuid[])',
    [operatorIds],
  );
  return rows.map((r) => r.project_id);
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
  return listPageUnder(db, 'projects', 'project_id', { column: 'operator_id', id: operatorId }, vis, page);
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
  return listPageUnder(db, 'buildings', 'building_id', { column: 'project_id', id: projectId }, vis, page);
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
