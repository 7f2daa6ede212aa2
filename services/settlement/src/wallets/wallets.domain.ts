import {
  CURRENCY,
  DomainError,
  requestId,
  requiredMoney,
  requiredString,
  TENANT_ID,
} from '@citybase/platform';
import {
  GetWalletRequest,
  PayPropertyFeeFromWalletRequest,
  WithdrawFromWalletRequest,
} from '@citybase/contracts/citybase/settlement/v1/settlement';

/** Requests of residents' wallets, validated into commands (INVALID_ARGUMENT naming the field). Pure. */

export interface WalletRef {
  operatorId: string;
  ownerRef: string;
  currency: string;
}

export function toWalletRef(req: GetWalletRequest): WalletRef {
  return {
    operatorId: requiredString('operator_id', req.operatorId, TENANT_ID),
    ownerRef: requiredString('owner_ref', req.ownerRef, TENANT_ID),
    currency: requiredString('currency', req.currency, CURRENCY),
  };
}

export interface WithdrawCommand extends WalletRef {
  requestId: string;
  amountMinor: bigint;
  /** In clear: only for the idempotency fingerprint and masking; never stored, logged or answered. */
  bankAccount: string;
}

export function toWithdrawCommand(req: WithdrawFromWalletRequest): WithdrawCommand {
  // fields are checked in this order: the first bad one is the one reported
  return {
    requestId: requestId(req.requestId),
    operatorId: requiredString('operator_id', req.operatorId, TENANT_ID),
    ownerRef: requiredString('owner_ref', req.ownerRef, TENANT_ID),
    ...requiredMoney('amount', req.amount),
    bankAccount: bankAccount(req.bankAccount),
  };
}

/** 4-64 characters; the rule never echoes the value (it is personal data). */
function bankAccount(value: string | undefined): string {
  const v = (value ?? '').replace(/\s+/g, '');
  if (v.length === 0) throw DomainError.invalid('bank_account', 'is required');
  if (v.length < 4 || v.length > 64) throw DomainError.invalid('bank_account', 'must be 4-64 characters');
  if (!/^[A-Za-z0-9-]+$/.test(v))
    throw DomainError.invalid('bank_account', 'may contain only letters, digits and dashes');
  return v;
}

/** What every answer shows of a bank account: its last four characters. */
export function maskBankAccount(account: string): string {
  const clear = account.replace(/\s+/g, '');
  if (clear.length === 0) return '';
  return `****${clear.slice(-4)}`;
}

export interface PayPropertyFeeCommand extends WalletRef {
  requestId: string;
  projectId: string;
  amountMinor: bigint;
  billRef: string;
}

export function toPayPropertyFeeCommand(req: PayPropertyFeeFromWalletRequest): PayPropertyFeeCommand {
  return {
    requestId: requestId(req.requestId),
    operatorId: requiredString('operator_id', req.operatorId, TENANT_ID),
    projectId: requiredString('project_id', req.projectId, TENANT_ID),
    ownerRef: requiredString('owner_ref', req.ownerRef, TENANT_ID),
    ...requiredMoney('amount', req.amount),
    billRef: requiredString('bill_ref', req.billRef, { max: 64 }),
  };
}
