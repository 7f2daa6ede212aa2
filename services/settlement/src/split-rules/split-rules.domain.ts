import { DomainError, requestId, requiredString, TENANT_ID } from '@citybase/platform';
import {
  ListSplitRulesRequest,
  SetSplitRuleRequest,
} from '@citybase/contracts/citybase/settlement/v1/settlement';
import { optionalId } from '../request-rules';
import type { SplitRuleRow } from './split-rules.store';

/**
 * Pure rules of split rules: their terms, the default when a project has none, and the requests
 * that set and list them (INVALID_ARGUMENT naming the proto field).
 */

/** The parts of a rule that decide a split, plus the auto-confirm deadline. */
export interface SplitRuleTerms {
  commissionBps: number;
  propertyShareBps: number;
  taxBps: number;
  autoConfirmHours: number;
}

/**
 * A project without any rule (neither for the merchant's category nor a project default) splits
 * nothing off: the merchant gets the whole amount, and undisputed orders complete 24 h after
 * payment ("same day by default" in DOMAIN.md; 24 h is the shortest rule that is the same day for
 * every payment time).
 */
export const DEFAULT_SPLIT_RULE: SplitRuleTerms = Object.freeze({
  commissionBps: 0,
  propertyShareBps: 0,
  taxBps: 0,
  autoConfirmHours: 24,
});

export const BPS_LIMITS = {
  commissionBps: { field: 'commission_bps', max: 3000 },
  propertyShareBps: { field: 'property_share_bps', max: 5000 },
  taxBps: { field: 'tax_bps', max: 2000 },
} as const;
export const AUTO_CONFIRM_HOURS = { min: 1, max: 720 } as const;

export const ruleTerms = (r: SplitRuleRow): SplitRuleTerms => ({
  commissionBps: r.commission_bps,
  propertyShareBps: r.property_share_bps,
  taxBps: r.tax_bps,
  autoConfirmHours: r.auto_confirm_hours,
});

function integerIn(field: string, value: number | undefined, min: number, max: number): number {
  const v = value ?? 0;
  if (!Number.isInteger(v) || v < min || v > max)
    throw DomainError.invalid(field, `must be from ${min} to ${max}`);
  return v;
}

export interface SetSplitRuleCommand {
  requestId: string;
  operatorId: string;
  projectId: string;
  merchantCategory: string;
  commissionBps: number;
  propertyShareBps: number;
  taxBps: number;
  autoConfirmHours: number;
}

export function toSetSplitRuleCommand(req: SetSplitRuleRequest): SetSplitRuleCommand {
  const id = requestId(req.requestId);
  const rule = req.rule;
  if (!rule) throw DomainError.invalid('rule', 'is required');
  const cmd = {
    requestId: id,
    operatorId: requiredString('rule.operator_id', rule.operatorId, TENANT_ID),
    projectId: requiredString('rule.project_id', rule.projectId, TENANT_ID),
    merchantCategory: optionalId('rule.merchant_category', rule.merchantCategory),
    commissionBps: integerIn('rule.commission_bps', rule.commissionBps, 0, BPS_LIMITS.commissionBps.max),
    propertyShareBps: integerIn(
      'rule.property_share_bps',
      rule.propertyShareBps,
      0,
      BPS_LIMITS.propertyShareBps.max,
    ),
    taxBps: integerIn('rule.tax_bps', rule.taxBps, 0, BPS_LIMITS.taxBps.max),
    autoConfirmHours: integerIn(
      'rule.auto_confirm_hours',
      rule.autoConfirmHours,
      AUTO_CONFIRM_HOURS.min,
      AUTO_CONFIRM_HOURS.max,
    ),
  };
  // the limits above already keep the sum within 10000 bp; the rule stands on its own regardless
  if (cmd.commissionBps + cmd.propertyShareBps + cmd.taxBps > 10_000)
    throw DomainError.invalid('rule', 'commission_bps + property_share_bps + tax_bps must be at most 10000');
  return cmd;
}

export function toListSplitRulesQuery(req: ListSplitRulesRequest): { operatorId: string; projectId: string } {
  return {
    operatorId: requiredString('operator_id', req.operatorId, TENANT_ID),
    projectId: requiredString('project_id', req.projectId, TENANT_ID),
  };
}
