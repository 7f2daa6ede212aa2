import { toTimestamp } from '@citybase/platform';
import { Payout } from '@citybase/contracts/citybase/settlement/v1/settlement';
import type { PayoutRow } from './payouts.store';

/** Proto answers of payouts. */

export function payoutProto(p: PayoutRow): Payout {
  return {
    payoutId: p.payout_id,
    batchId: p.batch_id ?? '',
    tenancy: { operatorId: p.operator_id, projectId: p.project_id, merchantId: p.merchant_id },
    accountId: p.account_id,
    accountKind: p.account_kind,
    amount: { currency: p.currency, amountMinor: p.amount_minor },
    status: p.status,
    // stored masked already
    bankAccount: p.bank_account,
    bankReference: p.bank_reference,
    createdAt: toTimestamp(p.created_at),
    expiresAt: toTimestamp(p.expires_at),
    settledAt: p.settled_at ? toTimestamp(p.settled_at) : undefined,
    failureReason: p.failure_reason,
  };
}
