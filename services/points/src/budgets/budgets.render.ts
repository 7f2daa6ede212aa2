import { toTimestamp } from '@citybase/platform';
import { Budget, BudgetLevel } from '@citybase/contracts/citybase/points/v1/points';
import type { BudgetLevelName } from './budgets.domain';
import type { BudgetWithTotals } from './budgets.store';

/** Proto answers of budgets. */

const LEVELS: Record<BudgetLevelName, BudgetLevel> = {
  CITY: BudgetLevel.BUDGET_LEVEL_CITY,
  OPERATOR: BudgetLevel.BUDGET_LEVEL_OPERATOR,
  PROJECT: BudgetLevel.BUDGET_LEVEL_PROJECT,
};

export function budgetToProto(b: BudgetWithTotals): Budget {
  return {
    level: LEVELS[b.level],
    tenancy: { operatorId: b.operator_id, projectId: b.project_id, merchantId: '' },
    period: b.period,
    allotted: b.allotted,
    allottedToChildren: b.allotted_to_children,
    issued: b.issued,
    unallotted: b.allotted - b.allotted_to_children - b.issued,
    subtreeIssued: b.subtree_issued,
    subtreeRedeemed: b.subtree_redeemed,
    subtreeExpired: b.subtree_expired,
    updatedAt: toTimestamp(b.updated_at),
  };
}
