import { toTimestamp } from '@citybase/platform';
import type { EarningRule } from '@citybase/contracts/citybase/points/v1/points';
import type { EarningRuleRow } from './earning.store';

export function ruleToProto(r: EarningRuleRow): EarningRule {
  return {
    ruleId: r.rule_id,
    tenancy: { operatorId: r.operator_id, projectId: r.project_id, merchantId: '' },
    scenario: r.scenario,
    pointsPerYuan: r.points_per_yuan,
    dailyCap: r.daily_cap,
    updatedAt: toTimestamp(r.updated_at),
  };
}
