import { randomInt, randomUUID } from 'node:crypto';
import type { Client } from 'pg';

/*
 * Tenancy rows for the people and access tests, written straight into the 0001 tables (the
 * TenancyService is a separate feature; these tests must not depend on it). Staff, residents and
 * everything else of the people feature are created through its own RPCs.
 */

export interface Tenant {
  operatorId: string;
  projectId: string;
  /** A second project of the same operator. */
  otherProjectId: string;
  buildingId: string;
  /** Units of buildingId. */
  unitIds: string[];
  /** A building of otherProjectId, and a unit in it. */
  otherBuildingId: string;
  otherUnitId: string;
}

export async function insertOperator(
  pg: Client,
  name = `operator ${randomUUID().slice(0, 8)}`,
): Promise<string> {
  const id = randomUUID();
  await pg.query('INSERT INTO operators (operator_id, name) VALUES ($1, $2)', [id, name]);
  return id;
}

export async function insertProject(pg: Client, operatorId: string, name = 'Project'): Promise<string> {
  const id = randomUUID();
  await pg.query('INSERT INTO projects (project_id, operator_id, name, kind) VALUES ($1, $2, $3, 1)', [
    id,
    operatorId,
    `${name} ${id.slice(0, 8)}`,
  ]);
  return id;
}

export async function insertBuilding(pg: Client, operatorId: string, projectId: string): Promise<string> {
  const id = randomUUID();
  await pg.query(
    'INSERT INTO buildings (building_id, project_id, operator_id, name) VALUES ($1, $2, $3, $4)',
    [id, projectId, operatorId, `Building ${id.slice(0, 8)}`],
  );
  return id;
}

export async function insertUnit(
  pg: Client,
  operatorId: string,
  projectId: string,
  buildingId: string,
): Promise<string> {
  const id = randomUUID();
  await pg.query(
    `INSERT INTO units (unit_id, building_id, project_id, operator_id, name, floor)
     VALUES ($1, $2, $3, $4, $5, 3)`,
    [id, buildingId, projectId, operatorId, `Unit ${id.slice(0, 8)}`],
  );
  return id;
}

/** A merchant row of a project (its personal columns hold placeholder bytes, not personal data). */
export async function insertMerchant(
  pg: Client,
  t: { operatorId: string; projectId: string },
  registeredByStaffId: string,
): Promise<string> {
  const id = randomUUID();
  await pg.query(
    `INSERT INTO merchants (merchant_id, operator_id, project_id, name, status, location, owner_name,
                            owner_id_number_enc, owner_id_number_hash, owner_id_number_masked,
                            contact_phone_enc, contact_phone_hash, contact_phone_masked, lease_ref,
                            business_scope, registered_by_staff_id)
     VALUES ($1, $2, $3, 'Shop', 2, 'B1-101', 'Owner', '\\x00', '\\x00', '****', '\\x00', '\\x00', '****',
             'lease-1', 'groceries', $4)`,
    [id, t.operatorId, t.projectId, registeredByStaffId],
  );
  return id;
}

/** An operator with two projects; the first has a building with `units` units, the second one of each. */
export async function insertTenant(pg: Client, units = 3): Promise<Tenant> {
  const operatorId = await insertOperator(pg);
  const projectId = await insertProject(pg, operatorId);
  const otherProjectId = await insertProject(pg, operatorId, 'Other');
  const buildingId = await insertBuilding(pg, operatorId, projectId);
  const unitIds: string[] = [];
  for (let i = 0; i < units; i++) unitIds.push(await insertUnit(pg, operatorId, projectId, buildingId));
  const otherBuildingId = await insertBuilding(pg, operatorId, otherProjectId);
  const otherUnitId = await insertUnit(pg, operatorId, otherProjectId, otherBuildingId);
  return { operatorId, projectId, otherProjectId, buildingId, unitIds, otherBuildingId, otherUnitId };
}

// ---- personal values: valid, distinct per call, recorded so tests can scan for leaks ----

/** Every phone and ID number handed out in this test file, normalised. */
export const issuedPii: string[] = [];

let phoneSeq = randomInt(10_000_000, 80_000_000);

/** A fresh valid mainland mobile number. */
export function newPhone(): string {
  const phone = `139${String(phoneSeq++).padStart(8, '0')}`;
  issuedPii.push(phone);
  return phone;
}

const ID_WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
const ID_CHECK = '10X98765432';

/** An ID number with its check digit for the first 17 characters. */
export function withCheckDigit(first17: string): string {
  const sum = ID_WEIGHTS.reduce((acc, w, i) => acc + w * Number(first17[i]), 0);
  return first17 + ID_CHECK[sum % 11];
}

let idSeq = randomInt(100, 900);

/** A fresh valid 18-character resident ID number. */
export function newIdNumber(): string {
  const birth = `19${String(50 + (idSeq % 40)).padStart(2, '0')}0${1 + (idSeq % 9)}1${idSeq % 10}`;
  const id = withCheckDigit(`110105${birth}${String(idSeq++ % 1000).padStart(3, '0')}`);
  issuedPii.push(id);
  return id;
}
