import {
  CITY_UTC_OFFSET_HOURS,
  DomainError,
  keyPart,
  optionalString,
  pageCursor,
  PageRequestLike,
  parsePage,
  requestId,
  requiredEnum,
  requiredString,
  TENANT_ID,
} from '@citybase/platform';
import type { EarningRule } from '@citybase/contracts/citybase/points/v1/points';
import { PaymentScenario } from '@citybase/contracts/citybase/payment/v1/payment';

/**
 * Pure rules of earning (no I/O): SetEarningRule / ListEarningRules requests validated into
 * commands (INVALID_ARGUMENT naming the proto field, before anything is read or written), and the
 * arithmetic of an earning and of a refund's reversal.
 */

/** The ranges of points.proto `EarningRule`. */
export const RULE_LIMITS = { pointsPerYuan: { min: 0, max: 10_000 } } as const;
/** Daily caps up to a trillion points (sums stay far inside int64). */
const MAX_DAILY_CAP = 1_000_000_000_000n;
/** No tiers (or a tier the programme no longer has) earns at 1000 per mille. */
export const BASE_MULTIPLIER_PERMILLE = 1000;

interface TenancyInput {
  operatorId?: string;
  projectId?: string;
}

export interface SetEarningRuleCommand {
  requestId: string;
  operatorId: string;
  /** '' for the operator's own rule. */
  projectId: string;
  scenario: PaymentScenario;
  pointsPerYuan: number;
  dailyCap: bigint;
}

export function toSetEarningRuleCommand(req: {
  requestId?: string;
  rule?: Partial<EarningRule>;
}): SetEarningRuleCommand {
  const id = requestId(req.requestId);
  const rule = req.rule;
  if (!rule) throw DomainError.invalid('rule', 'is required');
  const operatorId = requiredString('rule.tenancy.operator_id', rule.tenancy?.operatorId, TENANT_ID);
  const projectId = rule.tenancy?.projectId
    ? requiredString('rule.tenancy.project_id', rule.tenancy.projectId, TENANT_ID)
    : '';
  const scenario = requiredEnum('rule.scenario', rule.scenario, PaymentScenario) as PaymentScenario;
  const ppy = rule.pointsPerYuan ?? 0;
  const { min, max } = RULE_LIMITS.pointsPerYuan;
  if (!Number.isInteger(ppy) || ppy < min || ppy > max)
    throw DomainError.invalid('rule.points_per_yuan', `must be from ${min} to ${max}`);
  const dailyCap = rule.dailyCap ?? 0n;
  if (typeof dailyCap !== 'bigint' || dailyCap < 0n || dailyCap > MAX_DAILY_CAP)
    throw DomainError.invalid('rule.daily_cap', `must be from 0 to ${MAX_DAILY_CAP}`);
  return { requestId: id, operatorId, projectId, scenario, pointsPerYuan: ppy, dailyCap };
}

/** Page tokens of ListEarningRules: by (project_id, scenario). */
export const RULES_PAGE = pageCursor(
  'points.earning_rules',
  keyPart.text(/^[A-Za-z0-9._:-]*$/, 64),
  keyPart.bigint,
);

export interface ListEarningRulesQuery {
  operatorId: string;
  /** '' lists the operator's and all its projects' rules; a project: the operator's and its own. */
  projectId: string;
  size: number;
  after: { projectId: string; scenario: number } | undefined;
}

export function toListEarningRulesQuery(req: {
  tenancy?: TenancyInput;
  page?: PageRequestLike;
}): ListEarningRulesQuery {
  const operatorId = requiredString('tenancy.operator_id', req.tenancy?.operatorId, TENANT_ID);
  const projectId = optionalString('tenancy.project_id', req.tenancy?.projectId, TENANT_ID);
  const { size, after } = parsePage(req.page, RULES_PAGE);
  return {
    operatorId,
    projectId,
    size,
    after: after && { projectId: after[0], scenario: Number(after[1]) },
  };
}

/** The city day (YYYY-MM-DD, UTC+8) of a moment: the day a daily cap counts in. */
export function cityDay(at: Date): string {
  return new Date(at.getTime() + CITY_UTC_OFFSET_HOURS * 3_600_000).toISOString().slice(0, 10);
}

/**
 * Points a payment earns: floor(amount_minor * points_per_yuan / 100), times the tier's multiplier
 * per mille (floored), clamped to what the daily cap leaves (cap 0: no cap).
 */
export function pointsFor(p: {
  amountMinor: bigint;
  pointsPerYuan: number;
  multiplierPermille: number;
  dailyCap: bigint;
  earnedToday: bigint;
}): bigint {
  if (p.amountMinor <= 0n) return 0n;
  const base = (p.amountMinor * BigInt(p.pointsPerYuan)) / 100n;
  const points = (base * BigInt(p.multiplierPermille)) / 1000n;
  if (p.dailyCap === 0n) return points;
  const left = p.dailyCap - p.earnedToday;
  return left <= 0n ? 0n : points < left ? points : left;
}

/**
 * The tier's multiplier per mille from the programme's tiers: '' (an account whose tier never
 * changed) is the first tier; no tiers, or a tier the programme no longer has: 1000.
 */
export function multiplierOf(
  tiers: readonly { name: string; multiplierPermille: number }[],
  tier: string,
): number {
  if (tier === '') return tiers[0]?.multiplierPermille ?? BASE_MULTIPLIER_PERMILLE;
  return tiers.find((t) => t.name === tier)?.multiplierPermille ?? BASE_MULTIPLIER_PERMILLE;
}

/**
 * What a refund takes back now: floor(earned * refunded_total / paid) less what earlier refunds
 * took, never below 0 and never past what was earned (refunded_total beyond paid counts as paid).
 */
export function toTakeBack(p: {
  earned: bigint;
  reversed: bigint;
  paid: bigint;
  refundedTotal: bigint;
}): bigint {
  if (p.paid <= 0n || p.earned <= 0n) return 0n;
  const refunded = p.refundedTotal > p.paid ? p.paid : p.refundedTotal < 0n ? 0n : p.refundedTotal;
  const due = (p.earned * refunded) / p.paid - p.reversed;
  return due > 0n ? due : 0n;
}

/**
 * Takes `points` from lots in the given order (each offering its free units): the units per lot and
 * the shortfall the lots could not cover.
 */
export function takeFrom(
  lots: readonly { lotId: string; free: bigint }[],
  points: bigint,
): { taken: { lotId: string; units: bigint }[]; shortfall: bigint } {
  const taken: { lotId: string; units: bigint }[] = [];
  let left = points;
  for (const l of lots) {
    if (left === 0n) break;
    if (l.free <= 0n) continue;
    const units = l.free < left ? l.free : left;
    taken.push({ lotId: l.lotId, units });
    left -= units;
  }
  return { taken, shortfall: left };
}
