import type { PoolClient } from '@citybase/platform';
import { sealedColumns, type SealedPii } from '../shared/pii';
import type { Page, Visibility } from '../shared/rows.domain';
import { CURSOR_AT, Db, listPageUnder } from '../shared/rows.store';
import type { RegisterMerchantCommand } from './merchants.domain';

// SQL of the merchants feature: the merchants table (keyset lists: see ../shared/rows.store.ts).

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

export async function insertMerchant(
  client: PoolClient,
  id: string,
  project: { operator_id: string; project_id: string },
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
      ...sealedColumns(sealed.ownerIdNumber),
      ...sealedColumns(sealed.contactPhone),
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
  return listPageUnder(db, 'merchants', 'merchant_id', { column: 'project_id', id: projectId }, vis, page);
}
