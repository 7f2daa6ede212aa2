import {
  CURRENCY,
  DomainError,
  keyPart,
  optionalString,
  pageCursor,
  parsePage,
  requestId,
  requiredString,
  requiredUuid,
  TENANT_ID,
} from '@citybase/platform';
import {
  ConfirmPayoutRequest,
  ListPayoutsRequest,
  PayoutStatus,
  RunPayoutCycleRequest,
} from '@citybase/contracts/citybase/settlement/v1/settlement';
import { PayoutErrors } from './payouts.errors';

// ---- commands ----

export interface RunPayoutCycleCommand {
  requestId: string;
  operatorId: string;
  projectId: string;
  currency: string;
}

export function toRunPayoutCycleCommand(req: RunPayoutCycleRequest): RunPayoutCycleCommand {
  return {
    requestId: requestId(req.requestId),
    operatorId: requiredString('operator_id', req.operatorId, TENANT_ID),
    projectId: requiredString('project_id', req.projectId, TENANT_ID),
    currency: requiredString('currency', req.currency, CURRENCY),
  };
}

export type ConfirmOutcome = { paid: true; bankReference: string } | { paid: false; failureReason: string };

export interface ConfirmPayoutCommand {
  requestId: string;
  payoutId: string;
  outcome: ConfirmOutcome;
}

export function toConfirmPayoutCommand(req: ConfirmPayoutRequest): ConfirmPayoutCommand {
  const cmd = { requestId: requestId(req.requestId), payoutId: requiredUuid('payout_id', req.payoutId) };
  if (req.succeeded) {
    if (optionalString('failure_reason', req.failureReason, { max: 200 }) !== '')
      throw DomainError.invalid('failure_reason', 'must be empty when succeeded');
    return {
      ...cmd,
      outcome: {
        paid: true,
        bankReference: requiredString('bank_reference', req.bankReference, { max: 64 }),
      },
    };
  }
  if (optionalString('bank_reference', req.bankReference, { max: 64 }) !== '')
    throw DomainError.invalid('bank_reference', 'must be empty when not succeeded');
  return {
    ...cmd,
    outcome: {
      paid: false,
      failureReason: requiredString('failure_reason', req.failureReason, { max: 200 }),
    },
  };
}

// ---- lists ----

/** Page tokens of ListPayouts, sorted newest first by (created_at, payout_id). */
export const PAYOUTS_PAGE = pageCursor('settlement.payouts', keyPart.timestamp, keyPart.uuid);

export interface Cursor {
  /** ISO 8601 with microseconds, e.g. 2026-01-02T03:04:05.123456Z. */
  createdAt: string;
  id: string;
}

export interface ListPayoutsQuery {
  operatorId: string;
  projectId: string;
  batchId: string;
  size: number;
  after: Cursor | undefined;
}

export function toListPayoutsQuery(req: ListPayoutsRequest): ListPayoutsQuery {
  const operatorId = req.operatorId ? requiredString('operator_id', req.operatorId, TENANT_ID) : '';
  const projectId = req.projectId ? requiredString('project_id', req.projectId, TENANT_ID) : '';
  const batchId = req.batchId ? requiredUuid('batch_id', req.batchId) : '';
  const { size, after } = parsePage(req.page, PAYOUTS_PAGE);
  return { operatorId, projectId, batchId, size, after: after && { createdAt: after[0], id: after[1] } };
}

// ---- the bank's answer ----

export interface PayoutState {
  payoutId: string;
  status: PayoutStatus;
  bankReference: string;
}

/**
 * What ConfirmPayout does with a payout. A pending one is paid (its hold posted) or failed (voided).
 * A final one is answered as it is when the answer agrees with it (the bank repeating itself: paid
 * with the same reference, or failed again; a failure reported for an expired payout also agrees, no
 * money moved) and refused when it contradicts it.
 */
export function decideConfirm(payout: PayoutState, outcome: ConfirmOutcome): 'pay' | 'fail' | 'unchanged' {
  switch (payout.status) {
    case PayoutStatus.PAYOUT_STATUS_PENDING:
      return outcome.paid ? 'pay' : 'fail';
    case PayoutStatus.PAYOUT_STATUS_PAID:
      if (outcome.paid && outcome.bankReference === payout.bankReference) return 'unchanged';
      throw PayoutErrors.alreadySettled(payout.payoutId, 'paid');
    case PayoutStatus.PAYOUT_STATUS_FAILED:
      if (!outcome.paid) return 'unchanged';
      throw PayoutErrors.alreadySettled(payout.payoutId, 'failed');
    case PayoutStatus.PAYOUT_STATUS_EXPIRED:
      if (!outcome.paid) return 'unchanged';
      throw PayoutErrors.expired(payout.payoutId);
    case PayoutStatus.PAYOUT_STATUS_UNSPECIFIED:
    case PayoutStatus.UNRECOGNIZED:
      throw new Error(`payout ${payout.payoutId} has no status`);
  }
}

/** The outcome named in PayoutSettled. */
export function outcomeName(status: PayoutStatus): 'paid' | 'failed' | 'expired' {
  switch (status) {
    case PayoutStatus.PAYOUT_STATUS_PAID:
      return 'paid';
    case PayoutStatus.PAYOUT_STATUS_FAILED:
      return 'failed';
    case PayoutStatus.PAYOUT_STATUS_EXPIRED:
      return 'expired';
    case PayoutStatus.PAYOUT_STATUS_PENDING:
    case PayoutStatus.PAYOUT_STATUS_UNSPECIFIED:
    case PayoutStatus.UNRECOGNIZED:
      throw new Error(`payout status ${status} is not final`);
  }
}

/** When a hold placed now expires. */
export function holdExpiry(now: Date, hours: number): Date {
  return new Date(now.getTime() + Math.round(hours * 3_600_000));
}
