import { DomainError, requestId, requiredMoney, requiredString } from '@citybase/platform';
import {
  GetWalletRequest,
  PayPropertyFeeFromWalletRequest,
  WithdrawFromWalletRequest,
} from '@citybase/contracts/citybase/settlement/v1/settlement';
import { CURRENCY, ID } from '../request-rules';

/** Requests of residents' wallets, validated into commands (INVALID_ARGUMENT naming the field). Pure. */

export interface WalletRef {
  operatorId: string;
  ownerRef: string;
  currency: string;
}

export function toWalletRef(req: GetWalletRequest): WalletRef {
  return {
    operatorId: requiredString('operator_id', req.operatorId, ID),
    ownerRef: requiredString('owner_ref', req.ownerRef, ID),
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
  const head = {
    requestId: requestId(req.requestId),
    operatorId: requiredString('operator_id', req.operatorId, ID),
    ownerRef: requiredString('owner_ref', req.ownerRef, ID),
  };
  const amount = requiredMoney('amount', req.amount);
  return {
    ...head,
    currency: amount.currency,
    amountMinor: amount.amountMinor,
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
  const head = {
    requestId: requestId(req.requestId),
    operatorId: requiredString('operator_id', req.operatorId, ID),
    projectId: requiredString('project_id', req.projectId, ID),
    ownerRef: requiredString('owner_ref', req.ownerRef, ID),
  };
  const amount = requiredMoney('amount', req.amount);
  return {
    ...head,
    currency: amount.currency,
    amountMinor: amount.amountMinor,
    billRef: requiredString('bill_ref', req.billRef, { max: 64 }),
  };
}
