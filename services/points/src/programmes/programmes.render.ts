import { toTimestamp } from '@citybase/platform';
import { Programme, ShortfallPolicy } from '@citybase/contracts/citybase/points/v1/points';
import type { ProgrammeTerms } from './programmes.domain';
import type { ProgrammeRow } from './programmes.store';

/** Proto answers of programmes, and the terms other rooms read. */

export function programmeTerms(r: ProgrammeRow): ProgrammeTerms {
  return {
    operatorId: r.operator_id,
    pointValue: { currency: r.point_value_currency, amountMinor: r.point_value_minor },
    lotLifetimeDays: r.lot_lifetime_days,
    refundWindowHours: r.refund_window_hours,
    shortfallPolicy: r.shortfall_policy,
    expiryNoticeDays: r.expiry_notice_days,
    tiers: r.tiers.map((t) => ({
      name: t.name,
      threshold: BigInt(t.threshold),
      multiplierPermille: t.multiplier_permille,
    })),
    tierWindowDays: r.tier_window_days,
  };
}

export function programmeToProto(r: ProgrammeRow): Programme {
  const t = programmeTerms(r);
  return {
    tenancy: { operatorId: t.operatorId, projectId: '', merchantId: '' },
    pointValue: t.pointValue,
    lotLifetimeDays: t.lotLifetimeDays,
    refundWindowHours: t.refundWindowHours,
    shortfallPolicy:
      t.shortfallPolicy === 'DEBT'
        ? ShortfallPolicy.SHORTFALL_POLICY_DEBT
        : ShortfallPolicy.SHORTFALL_POLICY_FORGIVE,
    expiryNoticeDays: t.expiryNoticeDays,
    tiers: t.tiers,
    tierWindowDays: t.tierWindowDays,
    updatedAt: toTimestamp(r.updated_at),
  };
}
