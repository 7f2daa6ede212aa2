import { PaymentStatus } from '@citybase/contracts/citybase/payment/v1/payment';
import type {
  ChannelRefundRequested,
  ChannelSplitRequested,
  ChannelSplitReturnRequested,
} from '@citybase/contracts/citybase/settlement/v1/events';
import type { Money } from '@citybase/contracts/citybase/common/v1/common';
import type { SplitResult } from '../channels/channel-adapter';

export type InstructionKind = 'split' | 'split_return' | 'refund';
export type InstructionStatus = 'pending' | 'succeeded' | 'failed';

/**
 * Reasons an instruction failed (ChannelSplitFailed / ChannelSplitReturnFailed / RefundFailed
 * reason) besides the channel's own codes (NOT_ENOUGH, NOT_PROFIT_SHARING, SPLIT_NOT_EXIST ...).
 */
export const InstructionFailureReasons = {
  /** No such payment, or not in the instruction's tenancy (the two answer alike). */
  paymentNotFound: 'PAYMENT_NOT_FOUND',
  /** Only a succeeded profit-sharing payment has held funds to split or return into. */
  notSplittable: 'PAYMENT_NOT_SPLITTABLE',
  /** The instruction cannot be carried out as given (amounts, currency, accounts, id). */
  invalid: 'INVALID_INSTRUCTION',
  /** The project has no account at the payment's channel any more. */
  noChannelAccount: 'CHANNEL_ACCOUNT_MISSING',
  /** The channel answered the split or the return as failed (without a code of its own). */
  splitFailed: 'CHANNEL_SPLIT_FAILED',
  splitReturnFailed: 'CHANNEL_SPLIT_RETURN_FAILED',
} as const;

/** One receiver as recorded: amounts are strings of minor units (jsonb has no int64). */
export interface ReceiverPayload {
  account: string;
  currency: string;
  amount_minor: string;
  description: string;
}

export interface SplitPayload {
  receivers: ReceiverPayload[];
  unfreeze_rest: boolean;
}

export interface SplitReturnPayload {
  split_instruction_id: string;
  account: string;
  currency: string;
  amount_minor: string;
}

export interface RefundPayload {
  currency: string;
  amount_minor: string;
  reason: string;
}

/** Who asked what about which payment: the instruction's own id and tenancy, as settlement gave them. */
export interface InstructionHeader {
  instructionId: string;
  paymentId: string;
  operatorId: string;
  projectId: string;
}

export type SplitInstruction = InstructionHeader & { kind: 'split'; payload: SplitPayload };
export type SplitReturnInstruction = InstructionHeader & {
  kind: 'split_return';
  payload: SplitReturnPayload;
};
export type RefundInstruction = InstructionHeader & { kind: 'refund'; payload: RefundPayload };

/** An instruction as the inbox handler records it (channel_instructions). */
export type RecordedInstruction = SplitInstruction | SplitReturnInstruction | RefundInstruction;

/** An instruction that names no instruction id cannot be recorded nor answered: a poison event. */
export class UnanswerableInstructionError extends Error {
  constructor(type: string) {
    super(`${type} without instruction_id: cannot be recorded or answered`);
    this.name = 'UnanswerableInstructionError';
  }
}

function header(
  type: string,
  e: { instructionId: string; paymentId: string; tenancy?: { operatorId: string; projectId: string } },
): InstructionHeader {
  const instructionId = e.instructionId.trim();
  if (instructionId === '') throw new UnanswerableInstructionError(type);
  return {
    instructionId,
    paymentId: e.paymentId.trim().toLowerCase(),
    operatorId: e.tenancy?.operatorId ?? '',
    projectId: e.tenancy?.projectId ?? '',
  };
}

const money = (m: Money | undefined) => ({
  currency: m?.currency ?? '',
  amount_minor: (m?.amountMinor ?? 0n).toString(),
});

export function splitInstruction(e: ChannelSplitRequested): SplitInstruction {
  return {
    ...header('ChannelSplitRequested', e),
    kind: 'split',
    payload: {
      receivers: e.receivers.map((r) => ({
        account: r.account,
        ...money(r.amount),
        description: r.description,
      })),
      unfreeze_rest: e.unfreezeRest,
    },
  };
}

export function splitReturnInstruction(e: ChannelSplitReturnRequested): SplitReturnInstruction {
  return {
    ...header('ChannelSplitReturnRequested', e),
    kind: 'split_return',
    payload: { split_instruction_id: e.splitInstructionId, account: e.account, ...money(e.amount) },
  };
}

export function refundInstruction(e: ChannelRefundRequested): RefundInstruction {
  return {
    ...header('ChannelRefundRequested', e),
    kind: 'refund',
    payload: { ...money(e.amount), reason: e.reason },
  };
}

/** Ids the channel takes as outSplitNo / outReturnNo (the providers' common subset). */
const CHANNEL_ID = /^[A-Za-z0-9_\-.:|*]{1,64}$/;
const MINOR = /^\d{1,19}$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const MAX_INT64 = 9_223_372_036_854_775_807n;

/** A positive int64 amount from its recorded string, or undefined. */
export function positiveMinor(text: string): bigint | undefined {
  if (!MINOR.test(text)) return undefined;
  const n = BigInt(text);
  return n > 0n && n <= MAX_INT64 ? n : undefined;
}

export function isPaymentId(id: string): boolean {
  return UUID.test(id);
}

/** What an instruction needs to know of the payment it is about. */
export interface InstructedPayment {
  operatorId: string;
  projectId: string;
  status: PaymentStatus;
  profitSharing: boolean;
  currency: string;
}

/** The payment if it lies in the instruction's tenancy; another tenant's payment is like none. */
export function paymentOfInstruction<P extends { operatorId: string; projectId: string }>(
  instruction: { operatorId: string; projectId: string },
  payment: P | undefined,
): P | undefined {
  if (!payment) return undefined;
  return payment.operatorId === instruction.operatorId && payment.projectId === instruction.projectId
    ? payment
    : undefined;
}

/** What the refund path is asked to do: the refund's command, or why it cannot even be tried. */
export function instructedRefundAmount(
  payload: RefundPayload,
): { kind: 'ok'; currency: string; amountMinor: bigint; reason: string } | { kind: 'invalid'; why: string } {
  const amountMinor = positiveMinor(payload.amount_minor);
  if (amountMinor === undefined) return { kind: 'invalid', why: 'amount must be positive' };
  if (!/^[A-Z]{3}$/.test(payload.currency))
    return { kind: 'invalid', why: 'currency must be an ISO 4217 code' };
  const reason = payload.reason.trim().slice(0, 200) || 'settlement instruction';
  return { kind: 'ok', currency: payload.currency, amountMinor, reason };
}

/** The split instruction a split return names, as recorded here (if it is). */
export interface RecordedSplit {
  kind: InstructionKind;
  paymentId: string;
  status: InstructionStatus;
}

export type InstructionPlan =
  | { kind: 'fail'; reason: string; why: string }
  /** Not now: the split it depends on is still being carried out. */
  | { kind: 'wait'; why: string }
  | {
      kind: 'split';
      receivers: { account: string; amountMinor: bigint; description: string }[];
      unfreezeRest: boolean;
    }
  | { kind: 'unfreeze' }
  | { kind: 'split_return'; splitId: string; account: string; amountMinor: bigint };

const fail = (reason: string, why: string): InstructionPlan => ({ kind: 'fail', reason, why });

/**
 * What to ask the channel for a split or split return, or why not: the rules an instruction must
 * pass before the channel is called. `payment` is the payment as stored (undefined if none); `split`
 * is the recorded split instruction a split return names (undefined if not recorded here).
 */
export function planInstruction(
  instruction: SplitInstruction | SplitReturnInstruction,
  payment: InstructedPayment | undefined,
  split?: RecordedSplit,
): InstructionPlan {
  const { paymentNotFound, notSplittable, invalid } = InstructionFailureReasons;
  const owned = paymentOfInstruction(instruction, payment);
  if (!owned) return fail(paymentNotFound, 'no such payment in the tenancy of the instruction');
  if (owned.status !== PaymentStatus.PAYMENT_STATUS_SUCCEEDED)
    return fail(notSplittable, 'the payment has not succeeded');
  if (!owned.profitSharing) return fail(notSplittable, 'the payment was not made with profit sharing');
  if (!CHANNEL_ID.test(instruction.instructionId))
    return fail(invalid, 'instruction_id must be 1-64 letters, digits or _-.:|*');
  if (instruction.kind === 'split') {
    const { receivers, unfreeze_rest: unfreezeRest } = instruction.payload;
    if (receivers.length === 0)
      return unfreezeRest ? { kind: 'unfreeze' } : fail(invalid, 'no receivers and nothing to unfreeze');
    const planned: { account: string; amountMinor: bigint; description: string }[] = [];
    for (const [i, r] of receivers.entries()) {
      const amountMinor = positiveMinor(r.amount_minor);
      if (amountMinor === undefined) return fail(invalid, `receivers[${i}].amount must be positive`);
      if (r.currency !== owned.currency)
        return fail(invalid, `receivers[${i}].amount must be in the payment's currency ${owned.currency}`);
      if (r.account.trim() === '') return fail(invalid, `receivers[${i}].account is required`);
      planned.push({ account: r.account, amountMinor, description: r.description });
    }
    return { kind: 'split', receivers: planned, unfreezeRest };
  }
  const p = instruction.payload;
  const amountMinor = positiveMinor(p.amount_minor);
  if (amountMinor === undefined) return fail(invalid, 'amount must be positive');
  if (p.currency !== owned.currency)
    return fail(invalid, `amount must be in the payment's currency ${owned.currency}`);
  if (p.account.trim() === '') return fail(invalid, 'account is required');
  if (!CHANNEL_ID.test(p.split_instruction_id))
    return fail(invalid, 'split_instruction_id must name a split instruction');
  if (split) {
    if (split.kind !== 'split' || split.paymentId !== instruction.paymentId)
      return fail(invalid, 'split_instruction_id names no split of this payment');
    // the split may still reach the channel: returning from it now would be refused for good
    if (split.status === 'pending') return { kind: 'wait', why: 'the split is still pending' };
  }
  return { kind: 'split_return', splitId: p.split_instruction_id, account: p.account, amountMinor };
}

/** What a channel answer means for the instruction. */
export type ChannelOutcome =
  | { kind: 'succeeded'; receivers: { account: string; amountMinor: bigint }[] }
  | { kind: 'failed'; reason: string }
  /** The channel is still working on it: ask again later (idempotent by the instruction id). */
  | { kind: 'pending'; why: string };

/**
 * A split (or unfreeze) answer. FINISHED is final: the receivers the channel paid are the ones
 * reported (a provider may fail single receivers; their money stays with the merchant). A receiver
 * still PENDING means the split is not finished yet.
 */
export function splitOutcome(result: SplitResult): ChannelOutcome {
  switch (result.status) {
    case 'PROCESSING':
      return { kind: 'pending', why: 'split processing at the channel' };
    case 'FAILED':
      return { kind: 'failed', reason: InstructionFailureReasons.splitFailed };
    case 'FINISHED':
      if (result.receivers.some((r) => r.result === 'PENDING'))
        return { kind: 'pending', why: 'a receiver is still pending' };
      return {
        kind: 'succeeded',
        receivers: result.receivers
          .filter((r) => r.result === 'SUCCESS')
          .map((r) => ({ account: r.account, amountMinor: r.amountMinor })),
      };
  }
}

export function splitReturnOutcome(status: 'PROCESSING' | 'SUCCESS' | 'FAILED'): ChannelOutcome {
  switch (status) {
    case 'PROCESSING':
      return { kind: 'pending', why: 'split return processing at the channel' };
    case 'FAILED':
      return { kind: 'failed', reason: InstructionFailureReasons.splitReturnFailed };
    case 'SUCCESS':
      return { kind: 'succeeded', receivers: [] };
  }
}
