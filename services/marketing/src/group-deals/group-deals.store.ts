import type { Pool, PoolClient } from '@citybase/platform';
import type { CreateGroupDealCommand, DealStatus, ParticipantStatus } from './group-deals.domain';

/**
 * All SQL of group buying (migrations/..._group_deals.sql); mutations run in the caller's
 * transaction. Lock order: the deal's row, then its participants' rows.
 */

type Db = Pool | PoolClient;

export interface DealRow {
  deal_id: string;
  operator_id: string;
  project_id: string;
  merchant_id: string;
  title: string;
  item_code: string;
  price_currency: string;
  price_minor: bigint;
  min_participants: number;
  max_participants: number;
  deadline: Date;
  status: DealStatus;
  paid: number;
  pending: number;
  created_by: string;
  created_at: Date;
  ended_at: Date | null;
}

export interface ParticipantRow {
  participant_id: string;
  deal_id: string;
  user_id: string;
  status: ParticipantStatus;
  payment_id: string | null;
  pay_url: string;
  hold_expires_at: Date;
  joined_at: Date;
  updated_at: Date;
}

export type CallKind = 'CREATE_PAYMENT' | 'REFUND' | 'COMPLETE';

export interface CallRow {
  call_id: string;
  kind: CallKind;
  participant_id: string;
  status: 'DUE' | 'DONE';
  attempts: number;
  last_error: string;
  next_at: Date;
}

// ---- deals ----

export async function insertDeal(
  client: PoolClient,
  dealId: string,
  c: CreateGroupDealCommand,
  createdBy: string,
): Promise<DealRow> {
  const { rows } = await client.query<DealRow>(
    `INSERT INTO group_deals (deal_id, operator_id, project_id, merchant_id, title, item_code, price_currency,
                              price_minor, min_participants, max_participants, deadline, created_by)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING *`,
    [
      dealId,
      c.operatorId,
      c.projectId,
      c.merchantId,
      c.title,
      c.itemCode,
      c.price.currency,
      c.price.amountMinor.toString(),
      c.minParticipants,
      c.maxParticipants,
      c.deadline,
      createdBy,
    ],
  );
  return rows[0] as DealRow;
}

export async function findDeal(db: Db, dealId: string): Promise<DealRow | undefined> {
  const { rows } = await db.query<DealRow>('SELECT * FROM group_deals WHERE deal_id = $1', [dealId]);
  return rows[0];
}

export async function lockDeal(client: PoolClient, dealId: string): Promise<DealRow | undefined> {
  const { rows } = await client.query<DealRow>('SELECT * FROM group_deals WHERE deal_id = $1 FOR UPDATE', [
    dealId,
  ]);
  return rows[0];
}

/** Changes the seat counts (the CHECKs refuse an oversold deal). */
export async function changeSeats(
  client: PoolClient,
  dealId: string,
  d: { paid?: number; pending?: number },
): Promise<DealRow> {
  const { rows } = await client.query<DealRow>(
    `UPDATE group_deals SET paid = paid + $2, pending = pending + $3 WHERE deal_id = $1 RETURNING *`,
    [dealId, d.paid ?? 0, d.pending ?? 0],
  );
  return rows[0] as DealRow;
}

/** Ends an OPEN deal (compare-and-set); undefined when it had ended already. */
export async function endDeal(
  client: PoolClient,
  dealId: string,
  status: Exclude<DealStatus, 'OPEN'>,
): Promise<DealRow | undefined> {
  const { rows } = await client.query<DealRow>(
    `UPDATE group_deals SET status = $2, ended_at = clock_timestamp()
      WHERE deal_id = $1 AND status = 'OPEN' RETURNING *`,
    [dealId, status],
  );
  return rows[0];
}

/** OPEN deals whose deadline has passed, earliest first. */
export async function overdueDeals(db: Db, now: Date, limit: number): Promise<string[]> {
  const { rows } = await db.query<{ deal_id: string }>(
    `SELECT deal_id FROM group_deals WHERE status = 'OPEN' AND deadline <= $1 ORDER BY deadline LIMIT $2`,
    [now, limit],
  );
  return rows.map((r) => r.deal_id);
}

// ---- participants ----

/** A PENDING participant; undefined when the user already holds a seat of the deal. */
export async function insertParticipant(
  client: PoolClient,
  p: { participantId: string; dealId: string; userId: string; holdExpiresAt: Date },
): Promise<ParticipantRow | undefined> {
  const { rows } = await client.query<ParticipantRow>(
    `INSERT INTO participants (participant_id, deal_id, user_id, hold_expires_at) VALUES ($1, $2, $3, $4)
     ON CONFLICT (deal_id, user_id) WHERE status IN ('PENDING', 'PAID') DO NOTHING RETURNING *`,
    [p.participantId, p.dealId, p.userId, p.holdExpiresAt],
  );
  return rows[0];
}

export async function findParticipant(db: Db, participantId: string): Promise<ParticipantRow | undefined> {
  const { rows } = await db.query<ParticipantRow>('SELECT * FROM participants WHERE participant_id = $1', [
    participantId,
  ]);
  return rows[0];
}

export async function participantByPayment(db: Db, paymentId: string): Promise<ParticipantRow | undefined> {
  const { rows } = await db.query<ParticipantRow>('SELECT * FROM participants WHERE payment_id = $1', [
    paymentId,
  ]);
  return rows[0];
}

export async function lockParticipant(client: PoolClient, participantId: string): Promise<ParticipantRow> {
  const { rows } = await client.query<ParticipantRow>(
    'SELECT * FROM participants WHERE participant_id = $1 FOR UPDATE',
    [participantId],
  );
  if (!rows[0]) throw new Error(`participant ${participantId} vanished`);
  return rows[0];
}

export async function participantsOf(
  db: Db,
  dealId: string,
  status?: ParticipantStatus,
): Promise<ParticipantRow[]> {
  const { rows } = await db.query<ParticipantRow>(
    `SELECT * FROM participants WHERE deal_id = $1 AND ($2::text IS NULL OR status = $2)
      ORDER BY joined_at, participant_id`,
    [dealId, status ?? null],
  );
  return rows;
}

/** Moves a participant from one status to another (compare-and-set); false when it was not in `from`. */
export async function moveParticipant(
  client: PoolClient,
  participantId: string,
  from: ParticipantStatus,
  to: ParticipantStatus,
): Promise<boolean> {
  const { rowCount } = await client.query(
    `UPDATE participants SET status = $3, updated_at = clock_timestamp()
      WHERE participant_id = $1 AND status = $2`,
    [participantId, from, to],
  );
  return rowCount === 1;
}

/** The payment CreatePayment answered, filled in once. */
export async function setPayment(
  client: PoolClient,
  participantId: string,
  paymentId: string,
  payUrl: string,
): Promise<boolean> {
  const { rowCount } = await client.query(
    `UPDATE participants SET payment_id = $2, pay_url = $3, updated_at = clock_timestamp()
      WHERE participant_id = $1 AND payment_id IS NULL`,
    [participantId, paymentId, payUrl],
  );
  return rowCount === 1;
}

/** PENDING participants whose hold has run out: (participant, deal). */
export async function expiredHolds(
  db: Db,
  now: Date,
  limit: number,
): Promise<{ participant_id: string; deal_id: string }[]> {
  const { rows } = await db.query<{ participant_id: string; deal_id: string }>(
    `SELECT participant_id, deal_id FROM participants
      WHERE status = 'PENDING' AND hold_expires_at <= $1 ORDER BY hold_expires_at LIMIT $2`,
    [now, limit],
  );
  return rows;
}

// ---- calls ----

/** Records a call to make (once per call id: asking again changes nothing). */
export async function insertCall(
  client: PoolClient,
  callId: string,
  kind: CallKind,
  participantId: string,
): Promise<void> {
  await client.query(
    `INSERT INTO deal_calls (call_id, kind, participant_id) VALUES ($1, $2, $3) ON CONFLICT (call_id) DO NOTHING`,
    [callId, kind, participantId],
  );
}

export async function findCall(db: Db, callId: string): Promise<CallRow | undefined> {
  const { rows } = await db.query<CallRow>('SELECT * FROM deal_calls WHERE call_id = $1', [callId]);
  return rows[0];
}

/**
 * Takes up to `limit` due calls for `leaseMs` (their next_at moves on, so another replica's job
 * skips them meanwhile); a call made twice is harmless (fixed request ids).
 */
export async function leaseDueCalls(db: Db, limit: number, leaseMs: number): Promise<CallRow[]> {
  const { rows } = await db.query<CallRow>(
    `UPDATE deal_calls SET next_at = clock_timestamp() + make_interval(secs => $2::float8 / 1000)
      WHERE call_id IN (SELECT call_id FROM deal_calls WHERE status = 'DUE' AND next_at <= clock_timestamp()
                         ORDER BY next_at LIMIT $1 FOR UPDATE SKIP LOCKED)
      RETURNING *`,
    [limit, leaseMs],
  );
  return rows;
}

export async function callDone(db: Db, callId: string): Promise<void> {
  await db.query(
    `UPDATE deal_calls SET status = 'DONE', done_at = clock_timestamp(), attempts = attempts + 1, last_error = ''
      WHERE call_id = $1 AND status = 'DUE'`,
    [callId],
  );
}

export async function callFailed(db: Db, callId: string, error: string, delayMs: number): Promise<void> {
  await db.query(
    `UPDATE deal_calls SET attempts = attempts + 1, last_error = left($2, 500),
            next_at = clock_timestamp() + make_interval(secs => $3::float8 / 1000)
      WHERE call_id = $1 AND status = 'DUE'`,
    [callId, error, delayMs],
  );
}

// ---- payment outcomes nobody names yet ----

/**
 * Serializes, per payment id, filling a participant's payment id in with recording an outcome no
 * participant names yet (until the transaction ends), so an outcome is never recorded just after
 * the fill-in looked for it. Taken before the deal's lock.
 */
export async function lockPaymentKey(client: PoolClient, paymentId: string): Promise<void> {
  await client.query(`SELECT pg_advisory_xact_lock(hashtext('marketing.group-payment'), hashtext($1))`, [
    paymentId,
  ]);
}

export async function recordUnmatched(
  client: PoolClient,
  paymentId: string,
  outcome: 'SUCCEEDED' | 'FAILED',
): Promise<void> {
  await client.query(
    `INSERT INTO unmatched_payments (payment_id, outcome) VALUES ($1, $2) ON CONFLICT (payment_id) DO NOTHING`,
    [paymentId, outcome],
  );
}

export async function takeUnmatched(
  client: PoolClient,
  paymentId: string,
): Promise<'SUCCEEDED' | 'FAILED' | undefined> {
  const { rows } = await client.query<{ outcome: 'SUCCEEDED' | 'FAILED' }>(
    'DELETE FROM unmatched_payments WHERE payment_id = $1 RETURNING outcome',
    [paymentId],
  );
  return rows[0]?.outcome;
}
