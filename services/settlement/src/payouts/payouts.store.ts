import type { PoolClient } from '@citybase/platform';
import { AccountKind, PayoutStatus } from '@citybase/contracts/citybase/settlement/v1/settlement';
import type { Queryable } from '../ledger/ledger.service';
import type { Cursor } from './payouts.domain';

/** SQL of payouts and payout batches (migrations/0004_payouts.sql). */

export interface PayoutRow {
  payout_id: string;
  batch_id: string | null;
  operator_id: string;
  project_id: string;
  merchant_id: string;
  owner_ref: string;
  account_id: string;
  account_kind: AccountKind;
  currency: string;
  amount_minor: bigint;
  status: PayoutStatus;
  hold_id: string;
  bank_account: string;
  bank_reference: string;
  failure_reason: string;
  tx_id: string | null;
  created_at: Date;
  expires_at: Date;
  settled_at: Date | null;
}

export type NewPayout = Omit<
  PayoutRow,
  'status' | 'bank_reference' | 'failure_reason' | 'tx_id' | 'created_at' | 'settled_at'
>;

export async function insertBatch(
  client: PoolClient,
  b: { batchId: string; operatorId: string; projectId: string; currency: string },
): Promise<void> {
  await client.query(
    'INSERT INTO payout_batches (batch_id, operator_id, project_id, currency) VALUES ($1, $2, $3, $4)',
    [b.batchId, b.operatorId, b.projectId, b.currency],
  );
}

export async function findBatch(
  db: Queryable,
  batchId: string,
): Promise<{ batch_id: string; operator_id: string; project_id: string } | undefined> {
  const { rows } = await db.query<{ batch_id: string; operator_id: string; project_id: string }>(
    'SELECT batch_id, operator_id, project_id FROM payout_batches WHERE batch_id = $1',
    [batchId],
  );
  return rows[0];
}

export async function insertPayout(client: PoolClient, p: NewPayout): Promise<PayoutRow> {
  const { rows } = await client.query<PayoutRow>(
    `INSERT INTO payouts (payout_id, batch_id, operator_id, project_id, merchant_id, owner_ref, account_id,
                          account_kind, currency, amount_minor, status, hold_id, bank_account, expires_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, ${PayoutStatus.PAYOUT_STATUS_PENDING}, $11, $12, $13)
     RETURNING *`,
    [
      p.payout_id,
      p.batch_id,
      p.operator_id,
      p.project_id,
      p.merchant_id,
      p.owner_ref,
      p.account_id,
      p.account_kind,
      p.currency,
      p.amount_minor,
      p.hold_id,
      p.bank_account,
      p.expires_at,
    ],
  );
  return rows[0]!;
}

export async function findPayout(db: Queryable, payoutId: string): Promise<PayoutRow | undefined> {
  const { rows } = await db.query<PayoutRow>('SELECT * FROM payouts WHERE payout_id = $1', [payoutId]);
  return rows[0];
}

export async function lockPayout(client: PoolClient, payoutId: string): Promise<PayoutRow | undefined> {
  const { rows } = await client.query<PayoutRow>('SELECT * FROM payouts WHERE payout_id = $1 FOR UPDATE', [
    payoutId,
  ]);
  return rows[0];
}

export async function payoutsOfBatch(db: Queryable, batchId: string): Promise<PayoutRow[]> {
  const { rows } = await db.query<PayoutRow>(
    'SELECT * FROM payouts WHERE batch_id = $1 ORDER BY merchant_id, payout_id',
    [batchId],
  );
  return rows;
}

/** Moves a pending payout to its final status; undefined if it was not pending. */
export async function settlePayout(
  client: PoolClient,
  payoutId: string,
  s: { status: PayoutStatus; bankReference?: string; failureReason?: string; txId?: string },
): Promise<PayoutRow | undefined> {
  const { rows } = await client.query<PayoutRow>(
    `UPDATE payouts SET status = $2, bank_reference = $3, failure_reason = $4, tx_id = $5,
                        settled_at = clock_timestamp()
      WHERE payout_id = $1 AND status = ${PayoutStatus.PAYOUT_STATUS_PENDING}
      RETURNING *`,
    [payoutId, s.status, s.bankReference ?? '', s.failureReason ?? '', s.txId ?? null],
  );
  return rows[0];
}

/**
 * Pending payouts whose hold is due, locked for this transaction; rows another replica holds are
 * skipped, so replicas never work on the same payout.
 */
export async function lockDuePayouts(client: PoolClient, limit: number): Promise<PayoutRow[]> {
  const { rows } = await client.query<PayoutRow>(
    `SELECT * FROM payouts
      WHERE status = ${PayoutStatus.PAYOUT_STATUS_PENDING} AND expires_at <= now()
      ORDER BY expires_at LIMIT $1
      FOR UPDATE SKIP LOCKED`,
    [limit],
  );
  return rows;
}

/**
 * Due pending ledger holds that belong to no payout, locked (skipping locked ones). A payout's hold is
 * created in the payout's transaction, so a committed hold without a payout row has none.
 */
export async function lockDueOrphanHolds(client: PoolClient, limit: number): Promise<string[]> {
  const { rows } = await client.query<{ hold_id: string }>(
    `SELECT h.hold_id FROM ledger_holds h
      WHERE h.status = 'pending' AND h.expires_at <= now()
        AND NOT EXISTS (SELECT 1 FROM payouts p WHERE p.hold_id = h.hold_id)
      ORDER BY h.expires_at LIMIT $1
      FOR UPDATE OF h SKIP LOCKED`,
    [limit],
  );
  return rows.map((r) => r.hold_id);
}

export interface ListedPayout extends PayoutRow {
  cursor_at: string;
}

/** A page of payouts, newest first, within the caller's tenancy (`all` or operator/project ids). */
export async function listPayouts(
  db: Queryable,
  q: {
    operatorId: string;
    projectId: string;
    batchId: string;
    size: number;
    after: Cursor | undefined;
    tenancy: { all: true } | { all: false; operatorIds: string[]; projectIds: string[] };
  },
): Promise<ListedPayout[]> {
  const where: string[] = [];
  const params: unknown[] = [];
  const param = (v: unknown) => {
    params.push(v);
    return `$${params.length}`;
  };
  if (!q.tenancy.all)
    where.push(
      `(operator_id = ANY(${param(q.tenancy.operatorIds)}::text[]) OR project_id = ANY(${param(q.tenancy.projectIds)}::text[]))`,
    );
  if (q.operatorId) where.push(`operator_id = ${param(q.operatorId)}`);
  if (q.projectId) where.push(`project_id = ${param(q.projectId)}`);
  if (q.batchId) where.push(`batch_id = ${param(q.batchId)}`);
  if (q.after)
    where.push(
      `(created_at, payout_id) < (${param(q.after.createdAt)}::timestamptz, ${param(q.after.id)}::uuid)`,
    );
  const { rows } = await db.query<ListedPayout>(
    `SELECT *, to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS cursor_at
       FROM payouts ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
      ORDER BY created_at DESC, payout_id DESC
      LIMIT ${param(q.size + 1)}`,
    params,
  );
  return rows;
}
