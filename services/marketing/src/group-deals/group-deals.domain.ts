import {
  DomainError,
  requestId,
  requiredMoney,
  requiredString,
  requiredTimestamp,
  requiredUuid,
  TENANT_ID,
} from '@citybase/platform';
import type { GroupDeal } from '@citybase/contracts/citybase/marketing/v1/marketing';

/**
 * Pure rules of group buying (no I/O): requests validated into commands, and the decisions of
 * the deal's state machine (docs/marketing.md "Group buying").
 */

export const DEAL_LIMITS = { title: 80, itemCode: 64, minParticipants: 2, maxParticipants: 10_000 } as const;

export type DealStatus = 'OPEN' | 'SUCCEEDED' | 'FAILED';
export type ParticipantStatus = 'PENDING' | 'PAID' | 'RELEASED' | 'REFUNDED' | 'WITHDRAWN';

interface TenancyInput {
  operatorId?: string;
  projectId?: string;
  merchantId?: string;
}

export interface CreateGroupDealCommand {
  requestId: string;
  operatorId: string;
  projectId: string;
  merchantId: string;
  title: string;
  itemCode: string;
  price: { currency: string; amountMinor: bigint };
  minParticipants: number;
  maxParticipants: number;
  deadline: Date;
}

const chars = (s: string): number => [...s].length;

export function toCreateGroupDealCommand(
  req: { requestId?: string; deal?: Partial<GroupDeal> },
  now: Date,
): CreateGroupDealCommand {
  const id = requestId(req.requestId);
  const d = req.deal;
  if (!d) throw DomainError.invalid('deal', 'is required');
  const operatorId = requiredString('deal.tenancy.operator_id', d.tenancy?.operatorId, TENANT_ID);
  const projectId = requiredString('deal.tenancy.project_id', d.tenancy?.projectId, TENANT_ID);
  const merchantId = requiredString('deal.tenancy.merchant_id', d.tenancy?.merchantId, TENANT_ID);
  const title = (d.title ?? '').trim();
  if (title === '' || chars(title) > DEAL_LIMITS.title)
    throw DomainError.invalid('deal.title', `must be 1-${DEAL_LIMITS.title} characters`);
  const itemCode = requiredString('deal.item_code', d.itemCode, {
    max: DEAL_LIMITS.itemCode,
    pattern: /^[A-Za-z0-9._:-]+$/,
    patternRule: 'must be 1-64 letters, digits, dots, dashes, colons or underscores',
  });
  const price = requiredMoney('deal.price', d.price);
  const min = d.minParticipants ?? 0;
  const max = d.maxParticipants ?? 0;
  if (!Number.isInteger(min) || min < DEAL_LIMITS.minParticipants || min > DEAL_LIMITS.maxParticipants)
    throw DomainError.invalid(
      'deal.min_participants',
      `must be from ${DEAL_LIMITS.minParticipants} to ${DEAL_LIMITS.maxParticipants}`,
    );
  if (!Number.isInteger(max) || max < min || max > DEAL_LIMITS.maxParticipants)
    throw DomainError.invalid(
      'deal.max_participants',
      `must be from min_participants to ${DEAL_LIMITS.maxParticipants}`,
    );
  const deadline = requiredTimestamp('deal.deadline', d.deadline);
  if (deadline <= now) throw DomainError.invalid('deal.deadline', 'must be in the future');
  return {
    requestId: id,
    operatorId,
    projectId,
    merchantId,
    title,
    itemCode,
    price,
    minParticipants: min,
    maxParticipants: max,
    deadline,
  };
}

export interface JoinGroupDealCommand {
  requestId: string;
  operatorId: string;
  dealId: string;
  userId: string;
}

export function toJoinGroupDealCommand(req: {
  requestId?: string;
  tenancy?: TenancyInput;
  dealId?: string;
  userId?: string;
}): JoinGroupDealCommand {
  return {
    requestId: requestId(req.requestId),
    operatorId: requiredString('tenancy.operator_id', req.tenancy?.operatorId, TENANT_ID),
    dealId: requiredUuid('deal_id', req.dealId),
    userId: requiredString('user_id', req.userId, TENANT_ID),
  };
}

export interface GetGroupDealQuery {
  operatorId: string;
  /** '' for an operator's client; a project's client names its project. */
  projectId: string;
  dealId: string;
}

export function toGetGroupDealQuery(req: { tenancy?: TenancyInput; dealId?: string }): GetGroupDealQuery {
  return {
    operatorId: requiredString('tenancy.operator_id', req.tenancy?.operatorId, TENANT_ID),
    projectId: req.tenancy?.projectId
      ? requiredString('tenancy.project_id', req.tenancy.projectId, TENANT_ID)
      : '',
    dealId: requiredUuid('deal_id', req.dealId),
  };
}

/** Why a join is refused, or undefined when a seat can be held. */
export function joinRefusal(
  deal: { status: DealStatus; deadline: Date; paid: number; pending: number; max_participants: number },
  now: Date,
): 'DEAL_ENDED' | 'DEAL_FULL' | undefined {
  if (deal.status !== 'OPEN' || deal.deadline <= now) return 'DEAL_ENDED';
  if (deal.paid + deal.pending >= deal.max_participants) return 'DEAL_FULL';
  return undefined;
}

/** A seat is held for `holdSeconds`, never past the deal's deadline. */
export function holdUntil(now: Date, holdSeconds: number, deadline: Date): Date {
  const until = new Date(now.getTime() + holdSeconds * 1000);
  return until < deadline ? until : deadline;
}

/**
 * A participant's payment succeeded: PAID when it still holds its seat in an open deal before its
 * deadline; refunded ("late") when the seat was released or the deal ended (seckill#41); nothing
 * when it was already applied.
 */
export function onPaymentSucceeded(
  participant: ParticipantStatus,
  deal: { status: DealStatus; deadline: Date },
  now: Date,
): 'pay' | 'refund_late' | 'ignore' {
  if (participant === 'PENDING') return deal.status === 'OPEN' && deal.deadline > now ? 'pay' : 'refund_late';
  if (participant === 'RELEASED') return 'refund_late';
  return 'ignore';
}

/**
 * A refund of a participant's payment succeeded (not one marketing asked for): a paid member of a
 * succeeded deal withdraws and the deal stays succeeded (CRMEB#27); of an open deal, its seat is
 * given back. Anything else: nothing.
 */
export function onMemberRefund(
  participant: ParticipantStatus,
  deal: DealStatus,
): 'withdraw' | 'free_seat' | 'ignore' {
  if (participant !== 'PAID') return 'ignore';
  if (deal === 'SUCCEEDED') return 'withdraw';
  if (deal === 'OPEN') return 'free_seat';
  return 'ignore';
}

/** At the deadline: enough paid, the deal succeeded; else it failed. */
export function deadlineOutcome(deal: { paid: number; min_participants: number }): 'SUCCEEDED' | 'FAILED' {
  return deal.paid >= deal.min_participants ? 'SUCCEEDED' : 'FAILED';
}

/** The request ids of the calls a participant needs: fixed, so each is made once whoever asks. */
export const callIds = {
  createPayment: (participantId: string) => participantId,
  refundFailed: (participantId: string) => `${participantId}:failed`,
  refundLate: (participantId: string) => `${participantId}:late`,
  complete: (participantId: string) => `${participantId}:complete`,
};

/** After a failed call the next waits longer: 1 s doubling, at most 5 min. */
export function nextAttemptDelayMs(attempts: number): number {
  return Math.min(1000 * 2 ** Math.min(attempts, 20), 300_000);
}
