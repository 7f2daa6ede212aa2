import { DomainError } from '@citybase/platform';

/** Error codes of budgets. */
export const BudgetsErrors = {
  notFound: (node: string, period: string) =>
    DomainError.notFound('budget of', `${node} for ${period}`, 'BUDGET_NOT_FOUND'),

  /** Issuance against a node that has no budget for the period. */
  notSet: (node: string, period: string) =>
    DomainError.precondition('BUDGET_NOT_SET', `${node} has no points budget for ${period}`),

  /** Issuance beyond what the node has left (refused by the budgets_within_allotment CHECK). */
  exceeded: (node: string, period: string) =>
    DomainError.precondition(
      'BUDGET_EXCEEDED',
      `the points budget of ${node} for ${period} has not enough left to issue this`,
    ),

  /** SetBudget of a node whose parent has no node for the period. */
  parentNotSet: (period: string) =>
    DomainError.precondition(
      'PARENT_BUDGET_NOT_SET',
      `the level above has no points budget for ${period}: set it first`,
    ),

  /** Raising a node by more than its parent has not yet handed down or issued. */
  parentExceeded: (period: string) =>
    DomainError.precondition(
      'PARENT_BUDGET_EXCEEDED',
      `the level above has not enough unallotted budget for ${period} to raise this one`,
    ),

  /** Lowering a node below what it issued and handed down. */
  belowUse: (period: string) =>
    DomainError.precondition(
      'BUDGET_BELOW_USE',
      `allotted: must be at least what is issued and allotted further down for ${period}`,
    ),
};
