import type { Pool, PoolClient } from '@citybase/platform';
import { PaymentStatus } from '@citybase/contracts/citybase/payment/v1/payment';
import {
  InstructedPayment,
  InstructionStatus,
  isPaymentId,
  RecordedInstruction,
  RefundPayload,
  SplitPayload,
  SplitReturnPayload,
} from './instructions.domain';

interface InstructionColumns {
  instruction_id: string;
  payment_id: string;
  operator_id: string;
  project_id: string;
  status: InstructionStatus;
  attempts: number;
  next_attempt_at: Date;
  leased_until: Date | null;
  last_error: string;
  result: Record<string, unknown> | null;
  created_at: Date;
  updated_at: Date;
}

export type InstructionRow = InstructionColumns &
  (
    | { kind: 'split'; payload: SplitPayload }
    | { kind: 'split_return'; payload: SplitReturnPayload }
    | { kind: 'refund'; payload: RefundPayload }
  );

/** What instructions need to know of the payment they are about (read from the payments table). */
export interface InstructedPaymentRow {
  payment_id: string;
  operator_id: string;
  project_id: string;
  merchant_id: string;
  status: PaymentStatus;
  channel: string;
  currency: string;
  profit_sharing: boolean;
}

type Db = Pool | PoolClient;

/** Records an instruction; undefined if its id was recorded before (a duplicate is a no-op). */
export async function insertInstruction(
  client: PoolClient,
  instruction: RecordedInstruction,
): Promise<InstructionRow | undefined> {
  const { rows } = await client.query<InstructionRow>(
    `INSERT INTO channel_instructions (instruction_id, kind, payment_id, operator_id, project_id, payload)
     VALUES ($1, $2, $3, $4, $5, $6)
     ON CONFLICT (instruction_id) DO NOTHING
     RETURNING *`,
    [
      instruction.instructionId,
      instruction.kind,
      instruction.paymentId,
      instruction.operatorId,
      instruction.projectId,
      JSON.stringify(instruction.payload),
    ],
  );
  return rows[0];
}

export async function findInstruction(db: Db, instructionId: string): Promise<InstructionRow | undefined> {
  const { rows } = await db.query<InstructionRow>(
    'SELECT * FROM channel_instructions WHERE instruction_id = $1',
    [instructionId],
  );
  return rows[0];
}

/**
 * The one final transition of an instruction: pending > succeeded | failed, once. Undefined if it
 * was final already (another process, or a duplicate answer, got there first).
 */
export async function finishInstruction(
  client: PoolClient,
  instructionId: string,
  status: Exclude<InstructionStatus, 'pending'>,
  result: Record<string, unknown>,
): Promise<InstructionRow | undefined> {
  const { rows } = await client.query<InstructionRow>(
    `UPDATE channel_instructions
        SET status = $2, result = $3, leased_until = NULL, updated_at = now()
      WHERE instruction_id = $1 AND status = 'pending'
      RETURNING *`,
    [instructionId, status, JSON.stringify(result)],
  );
  return rows[0];
}

/**
 * Pending splits and split returns that are due, leased to this executor run for `leaseMs` (other
 * processes skip them) and counted as an attempt.
 */
export async function claimDueInstructions(
  client: PoolClient,
  limit: number,
  leaseMs: number,
): Promise<InstructionRow[]> {
  const { rows } = await client.query<InstructionRow>(
    `WITH due AS (
       SELECT instruction_id FROM channel_instructions
        WHERE status = 'pending' AND kind IN ('split', 'split_return')
          AND next_attempt_at <= now()
          AND (leased_until IS NULL OR leased_until < now())
        ORDER BY next_attempt_at
        LIMIT $1
        FOR UPDATE SKIP LOCKED)
     UPDATE channel_instructions i
        SET leased_until = now() + make_interval(secs => $2), attempts = i.attempts + 1, updated_at = now()
       FROM due WHERE i.instruction_id = due.instruction_id
     RETURNING i.*`,
    [limit, leaseMs / 1000],
  );
  return rows;
}

/** Tries the instruction again in `delayMs` (the channel gave no final answer); releases the lease. */
export async function postponeInstruction(
  db: Db,
  instructionId: string,
  delayMs: number,
  lastError: string,
): Promise<void> {
  await db.query(
    `UPDATE channel_instructions
        SET next_attempt_at = now() + make_interval(secs => $2), last_error = $3, leased_until = NULL,
            updated_at = now()
      WHERE instruction_id = $1 AND status = 'pending'`,
    [instructionId, delayMs / 1000, lastError.slice(0, 1_000)],
  );
}

export async function releaseInstructionLease(db: Db, instructionId: string): Promise<void> {
  await db.query('UPDATE channel_instructions SET leased_until = NULL WHERE instruction_id = $1', [
    instructionId,
  ]);
}

/**
 * The payment an instruction names. Reads the payments table (feature payments) directly: behind
 * PaymentsService it would close a module cycle (payments > refunds > instructions > payments).
 */
export async function findInstructedPayment(
  db: Db,
  paymentId: string,
): Promise<InstructedPaymentRow | undefined> {
  if (!isPaymentId(paymentId)) return undefined; // not a uuid: the column cannot hold it
  const { rows } = await db.query<InstructedPaymentRow>(
    `SELECT payment_id, operator_id, project_id, merchant_id, status, channel, currency, profit_sharing
       FROM payments WHERE payment_id = $1`,
    [paymentId],
  );
  return rows[0];
}

/** The stored payment as the instruction rules see it. */
export function instructedPayment(row: InstructedPaymentRow | undefined): InstructedPayment | undefined {
  return (
    row && {
      operatorId: row.operator_id,
      projectId: row.project_id,
      status: row.status,
      profitSharing: row.profit_sharing,
      currency: row.currency,
    }
  );
}
