import type { Pool, PoolClient } from '@citybase/platform';
import {
  HouseholdRole,
  StaffRole,
  VerificationStatus,
} from '@citybase/contracts/citybase/identity/v1/people';
import { sealedColumns, type SealedPii } from '../shared/pii';

type Db = Pool | PoolClient;

/** Columns residents and couriers share: their place, name, and sealed phone and ID number. */
interface PersonInProjectColumns {
  operator_id: string;
  project_id: string;
  name: string;
  phone_enc: Buffer;
  phone_masked: string;
  id_number_enc: Buffer;
  id_number_masked: string;
  created_at: Date;
}

export interface ResidentRow extends PersonInProjectColumns {
  resident_id: string;
  verification_status: VerificationStatus;
  verified_by_staff_id: string | null;
  verified_at: Date | null;
  household_id: string | null;
}

export interface HouseholdRow {
  household_id: string;
  operator_id: string;
  project_id: string;
  unit_id: string;
  head_resident_id: string;
  created_at: Date;
}

export interface HouseholdMemberRow {
  resident_id: string;
  role: HouseholdRole;
  relation: string;
  bound_at: Date;
}

export interface StaffRow {
  staff_id: string;
  operator_id: string;
  project_id: string | null;
  merchant_id: string | null;
  role: StaffRole;
  name: string;
  phone_enc: Buffer;
  phone_masked: string;
  active: boolean;
  created_at: Date;
}

export interface CourierRow extends PersonInProjectColumns {
  courier_id: string;
  photo_ref: string;
  employer: string;
}

/** PostgreSQL's unique_violation on the named constraint or index. */
export function isUniqueViolation(err: unknown, constraint: string): boolean {
  const e = err as { code?: unknown; constraint?: unknown } | null;
  return e?.code === '23505' && e.constraint === constraint;
}

// ---- residents ----

const RESIDENT_COLUMNS = `r.resident_id, r.operator_id, r.project_id, r.name, r.phone_enc, r.phone_masked,
  r.id_number_enc, r.id_number_masked, r.verification_status, r.verified_by_staff_id, r.verified_at,
  m.household_id, r.created_at`;

/** What a resident or courier row stores alike: its place, name, and sealed phone and ID number. */
interface SealedPerson {
  operatorId: string;
  projectId: string;
  name: string;
  phone: SealedPii;
  idNumber: SealedPii;
}

/** The columns of a SealedPerson, in the order personParams gives their values. */
const PERSON_COLUMNS = `operator_id, project_id, name, phone_enc, phone_hash, phone_masked,
  id_number_enc, id_number_hash, id_number_masked`;

function personParams(p: SealedPerson): unknown[] {
  return [p.operatorId, p.projectId, p.name, ...sealedColumns(p.phone), ...sealedColumns(p.idNumber)];
}

export async function insertResident(
  client: PoolClient,
  row: SealedPerson & { residentId: string },
): Promise<Date> {
  const { rows } = await client.query<{ created_at: Date }>(
    `INSERT INTO residents (resident_id, ${PERSON_COLUMNS}, verification_status)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
     RETURNING created_at`,
    [row.residentId, ...personParams(row), VerificationStatus.VERIFICATION_STATUS_UNVERIFIED],
  );
  return (rows[0] as { created_at: Date }).created_at;
}

export async function findResident(db: Db, residentId: string): Promise<ResidentRow | undefined> {
  const { rows } = await db.query<ResidentRow>(
    `SELECT ${RESIDENT_COLUMNS}
       FROM residents r LEFT JOIN household_members m ON m.resident_id = r.resident_id
      WHERE r.resident_id = $1`,
    [residentId],
  );
  return rows[0];
}

/** Where a resident is placed, and who shares the resident's door grants. */
export interface ResidentPlacementRow {
  operator_id: string;
  project_id: string;
  /** The resident and every member of the resident's household (family members share its grants). */
  household_resident_ids: string[];
}

/** The resident's tenancy and household in one query (CheckDoorAccess reads it on every call). */
export async function findResidentPlacement(
  db: Db,
  residentId: string,
): Promise<ResidentPlacementRow | undefined> {
  const { rows } = await db.query<ResidentPlacementRow>(
    `SELECT r.operator_id, r.project_id,
            ARRAY(SELECT r.resident_id
                   UNION
                  SELECT other.resident_id FROM household_members self
                    JOIN household_members other ON other.household_id = self.household_id
                   WHERE self.resident_id = r.resident_id)::text[] AS household_resident_ids
       FROM residents r
      WHERE r.resident_id = $1`,
    [residentId],
  );
  return rows[0];
}

/**
 * The resident, locked against concurrent verification and household binding. Household membership
 * is re-read after the lock, so a bind that committed while this one waited is seen.
 */
export async function lockResident(client: PoolClient, residentId: string): Promise<ResidentRow | undefined> {
  const locked = await client.query('SELECT 1 FROM residents WHERE resident_id = $1 FOR UPDATE', [
    residentId,
  ]);
  if (locked.rowCount === 0) return undefined;
  return findResident(client, residentId);
}

export async function findResidentIdByPhone(
  db: Db,
  projectId: string,
  phoneHash: Buffer,
): Promise<string | undefined> {
  const { rows } = await db.query<{ resident_id: string }>(
    'SELECT resident_id FROM residents WHERE project_id = $1 AND phone_hash = $2',
    [projectId, phoneHash],
  );
  return rows[0]?.resident_id;
}

export async function markResidentVerified(
  client: PoolClient,
  residentId: string,
  staffId: string,
): Promise<Date> {
  const { rows } = await client.query<{ verified_at: Date }>(
    `UPDATE residents SET verification_status = $2, verified_by_staff_id = $3, verified_at = clock_timestamp()
      WHERE resident_id = $1
      RETURNING verified_at`,
    [residentId, VerificationStatus.VERIFICATION_STATUS_VERIFIED, staffId],
  );
  return (rows[0] as { verified_at: Date }).verified_at;
}

// ---- households ----

export async function insertHousehold(
  client: PoolClient,
  row: { householdId: string; operatorId: string; projectId: string; unitId: string; headResidentId: string },
): Promise<Date> {
  const { rows } = await client.query<{ created_at: Date }>(
    `INSERT INTO households (household_id, operator_id, project_id, unit_id, head_resident_id)
     VALUES ($1, $2, $3, $4, $5)
     RETURNING created_at`,
    [row.householdId, row.operatorId, row.projectId, row.unitId, row.headResidentId],
  );
  return (rows[0] as { created_at: Date }).created_at;
}

export async function insertHouseholdMember(
  client: PoolClient,
  row: { householdId: string; residentId: string; role: HouseholdRole; relation: string },
): Promise<HouseholdMemberRow> {
  const { rows } = await client.query<HouseholdMemberRow>(
    `INSERT INTO household_members (household_id, resident_id, role, relation)
     VALUES ($1, $2, $3, $4)
     RETURNING resident_id, role, relation, bound_at`,
    [row.householdId, row.residentId, row.role, row.relation],
  );
  return rows[0] as HouseholdMemberRow;
}

export async function findHousehold(db: Db, householdId: string): Promise<HouseholdRow | undefined> {
  const { rows } = await db.query<HouseholdRow>(
    `SELECT household_id, operator_id, project_id, unit_id, head_resident_id, created_at
       FROM households WHERE household_id = $1`,
    [householdId],
  );
  return rows[0];
}

export async function findHouseholdByUnit(db: Db, unitId: string): Promise<HouseholdRow | undefined> {
  const { rows } = await db.query<HouseholdRow>(
    `SELECT household_id, operator_id, project_id, unit_id, head_resident_id, created_at
       FROM households WHERE unit_id = $1`,
    [unitId],
  );
  return rows[0];
}

/** Members, head first, then in the order they were bound. */
export async function listHouseholdMembers(db: Db, householdId: string): Promise<HouseholdMemberRow[]> {
  const { rows } = await db.query<HouseholdMemberRow>(
    `SELECT resident_id, role, relation, bound_at FROM household_members
      WHERE household_id = $1 ORDER BY role, bound_at, resident_id`,
    [householdId],
  );
  return rows;
}

// ---- staff ----

const STAFF_COLUMNS =
  'staff_id, operator_id, project_id, merchant_id, role, name, phone_enc, phone_masked, active, created_at';

export async function insertStaff(
  client: PoolClient,
  row: {
    staffId: string;
    operatorId: string;
    projectId: string | null;
    merchantId: string | null;
    role: StaffRole;
    name: string;
    phone: SealedPii;
  },
): Promise<Date> {
  const { rows } = await client.query<{ created_at: Date }>(
    `INSERT INTO staff (staff_id, operator_id, project_id, merchant_id, role, name, phone_enc, phone_hash, phone_masked)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
     RETURNING created_at`,
    [
      row.staffId,
      row.operatorId,
      row.projectId,
      row.merchantId,
      row.role,
      row.name,
      ...sealedColumns(row.phone),
    ],
  );
  return (rows[0] as { created_at: Date }).created_at;
}

export async function findStaff(db: Db, staffId: string): Promise<StaffRow | undefined> {
  const { rows } = await db.query<StaffRow>(`SELECT ${STAFF_COLUMNS} FROM staff WHERE staff_id = $1`, [
    staffId,
  ]);
  return rows[0];
}

/**
 * The staff row, share-locked until the end of the transaction so that it cannot be deactivated or
 * moved while a write that relies on it commits.
 */
export async function findStaffForShare(client: PoolClient, staffId: string): Promise<StaffRow | undefined> {
  const { rows } = await client.query<StaffRow>(
    `SELECT ${STAFF_COLUMNS} FROM staff WHERE staff_id = $1 FOR SHARE`,
    [staffId],
  );
  return rows[0];
}

/** True if the staff member is active property staff of the project (locks the row against deactivation). */
export async function isActivePropertyStaff(
  client: PoolClient,
  staffId: string,
  projectId: string,
): Promise<boolean> {
  const { rowCount } = await client.query(
    `SELECT 1 FROM staff WHERE staff_id = $1 AND project_id = $2 AND role = $3 AND active FOR SHARE`,
    [staffId, projectId, StaffRole.STAFF_ROLE_PROPERTY_STAFF],
  );
  return rowCount === 1;
}

// ---- couriers ----

export async function insertCourier(
  client: PoolClient,
  row: SealedPerson & { courierId: string; photoRef: string; employer: string },
): Promise<Date> {
  const { rows } = await client.query<{ created_at: Date }>(
    `INSERT INTO couriers (courier_id, ${PERSON_COLUMNS}, photo_ref, employer)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
     RETURNING created_at`,
    [row.courierId, ...personParams(row), row.photoRef, row.employer],
  );
  return (rows[0] as { created_at: Date }).created_at;
}

export async function findCourier(db: Db, courierId: string): Promise<CourierRow | undefined> {
  const { rows } = await db.query<CourierRow>(
    `SELECT courier_id, operator_id, project_id, name, phone_enc, phone_masked, id_number_enc, id_number_masked,
            photo_ref, employer, created_at
       FROM couriers WHERE courier_id = $1`,
    [courierId],
  );
  return rows[0];
}
