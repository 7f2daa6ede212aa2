import { toTimestamp } from '@citybase/platform';
import { SplitRule } from '@citybase/contracts/citybase/settlement/v1/settlement';
import type { SplitRuleRow } from './split-rules.store';

/** Proto answers of split rules. */

export function ruleToProto(r: SplitRuleRow): SplitRule {
  return {
    operatorId: r.operator_id,
    projectId: r.project_id,
    merchantCategory: r.merchant_category,
    commissionBps: r.commission_bps,
    propertyShareBps: r.property_share_bps,
    taxBps: r.tax_bps,
    autoConfirmHours: r.auto_confirm_hours,
    updatedAt: toTimestamp(r.updated_at),
  };
}
