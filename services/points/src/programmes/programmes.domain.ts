import {
  DomainError,
  requestId,
  requiredEnum,
  requiredMoney,
  requiredString,
  TENANT_ID,
} from '@citybase/platform';
import {
  GetProgrammeRequest,
  SetProgrammeRequest,
  ShortfallPolicy,
  Tier,
} from '@citybase/contracts/citybase/points/v1/points';

/**
 * Pure rules of programmes: the ranges of points.proto `Programme`, requests validated into
 * commands (INVALID_ARGUMENT naming the proto field, before anything is read or written).
 */

export const PROGRAMME_LIMITS = {
  lotLifetimeDays: { field: 'lot_lifetime_days', min: 1, max: 3650 },
  refundWindowHours: { field: 'refund_window_hours', min: 0, max: 2160 },
  expiryNoticeDays: { field: 'expiry_notice_days', min: 0, max: 90 },
  tierWindowDays: { field: 'tier_window_days', min: 1, max: 730 },
} as const;
export const MAX_TIERS = 10;
export const TIER_NAME_MAX = 40;
export const MULTIPLIER_PERMILLE = { min: 1000, max: 10_000 } as const;
const INT64_MAX = 2n ** 63n - 1n;

export type ShortfallPolicyName = 'DEBT' | 'FORGIVE';

export interface TierTerms {
  name: string;
  threshold: bigint;
  multiplierPermille: number;
}

/** A programme's terms, as other rooms read them (ProgrammesService.get). */
export interface ProgrammeTerms {
  operatorId: string;
  pointValue: { currency: string; amountMinor: bigint };
  lotLifetimeDays: number;
  refundWindowHours: number;
  shortfallPolicy: ShortfallPolicyName;
  expiryNoticeDays: number;
  /** By rising threshold, the first one's 0; empty: no tiers. */
  tiers: TierTerms[];
  tierWindowDays: number;
}

export interface SetProgrammeCommand extends ProgrammeTerms {
  requestId: string;
}

function integerIn(field: string, value: number | undefined, min: number, max: number): number {
  const v = value ?? 0;
  if (!Number.isInteger(v) || v < min || v > max)
    throw DomainError.invalid(field, `must be from ${min} to ${max}`);
  return v;
}

function tiersOf(list: Tier[]): TierTerms[] {
  if (list.length > MAX_TIERS) throw DomainError.invalid('programme.tiers', `must be at most ${MAX_TIERS}`);
  const names = new Set<string>();
  return list.map((t, i) => {
    const field = `programme.tiers[${i}]`;
    const name = requiredString(`${field}.name`, t.name, { max: TIER_NAME_MAX });
    if (names.has(name)) throw DomainError.invalid(`${field}.name`, 'must differ from the other tiers');
    names.add(name);
    const threshold = t.threshold ?? 0n;
    if (typeof threshold !== 'bigint' || threshold < 0n || threshold > INT64_MAX)
      throw DomainError.invalid(`${field}.threshold`, 'must not be negative');
    if (i === 0 && threshold !== 0n)
      throw DomainError.invalid(`${field}.threshold`, 'must be 0 for the first tier');
    if (i > 0 && threshold <= (list[i - 1]?.threshold ?? 0n))
      throw DomainError.invalid(`${field}.threshold`, "must be greater than the previous tier's");
    const multiplierPermille = integerIn(
      `${field}.multiplier_permille`,
      t.multiplierPermille,
      MULTIPLIER_PERMILLE.min,
      MULTIPLIER_PERMILLE.max,
    );
    return { name, threshold, multiplierPermille };
  });
}

const POLICIES: Record<number, ShortfallPolicyName> = {
  [ShortfallPolicy.SHORTFALL_POLICY_DEBT]: 'DEBT',
  [ShortfallPolicy.SHORTFALL_POLICY_FORGIVE]: 'FORGIVE',
};

export function toSetProgrammeCommand(req: Partial<SetProgrammeRequest>): SetProgrammeCommand {
  const id = requestId(req.requestId);
  const p = req.programme;
  if (!p) throw DomainError.invalid('programme', 'is required');
  const operatorId = requiredString('programme.tenancy.operator_id', p.tenancy?.operatorId, TENANT_ID);
  if ((p.tenancy?.projectId ?? '') !== '')
    throw DomainError.invalid(
      'programme.tenancy.project_id',
      'must be empty: a programme belongs to an operator',
    );
  if ((p.tenancy?.merchantId ?? '') !== '')
    throw DomainError.invalid(
      'programme.tenancy.merchant_id',
      'must be empty: a programme belongs to an operator',
    );
  const pointValue = requiredMoney('programme.point_value', p.pointValue);
  const limit = (k: keyof typeof PROGRAMME_LIMITS, v: number | undefined) =>
    integerIn(`programme.${PROGRAMME_LIMITS[k].field}`, v, PROGRAMME_LIMITS[k].min, PROGRAMME_LIMITS[k].max);
  const lotLifetimeDays = limit('lotLifetimeDays', p.lotLifetimeDays);
  const refundWindowHours = limit('refundWindowHours', p.refundWindowHours);
  const policy = requiredEnum('programme.shortfall_policy', p.shortfallPolicy, ShortfallPolicy);
  const expiryNoticeDays = limit('expiryNoticeDays', p.expiryNoticeDays);
  const tiers = tiersOf(p.tiers ?? []);
  const tierWindowDays = limit('tierWindowDays', p.tierWindowDays);
  return {
    requestId: id,
    operatorId,
    pointValue,
    lotLifetimeDays,
    refundWindowHours,
    shortfallPolicy: POLICIES[policy]!,
    expiryNoticeDays,
    tiers,
    tierWindowDays,
  };
}

export function toGetProgrammeQuery(req: Partial<GetProgrammeRequest>): { operatorId: string } {
  if ((req.tenancy?.projectId ?? '') !== '')
    throw DomainError.invalid('tenancy.project_id', 'must be empty: a programme belongs to an operator');
  return { operatorId: requiredString('tenancy.operator_id', req.tenancy?.operatorId, TENANT_ID) };
}
