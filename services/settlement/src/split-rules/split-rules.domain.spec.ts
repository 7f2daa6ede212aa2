import { DEFAULT_SPLIT_RULE, toSetSplitRuleCommand } from './split-rules.domain';
import { domainErrorOf, splitRule } from '../../test/spec-helpers';

describe('DEFAULT_SPLIT_RULE', () => {
  it('splits nothing off and confirms after 24 h', () => {
    expect(DEFAULT_SPLIT_RULE).toEqual({
      commissionBps: 0,
      propertyShareBps: 0,
      taxBps: 0,
      autoConfirmHours: 24,
    });
  });
});

describe('request validation names the field', () => {
  const fieldOf = (fn: () => unknown) => domainErrorOf(fn).detail.field;
  const goodRule = splitRule({ operatorId: 'op-1', projectId: 'proj-1' });

  it('split rules', () => {
    expect(toSetSplitRuleCommand({ requestId: 'r1', rule: goodRule })).toMatchObject({ commissionBps: 500 });
    expect(fieldOf(() => toSetSplitRuleCommand({ requestId: '', rule: goodRule }))).toBe('request_id');
    expect(fieldOf(() => toSetSplitRuleCommand({ requestId: 'r', rule: undefined }))).toBe('rule');
    expect(
      fieldOf(() => toSetSplitRuleCommand({ requestId: 'r', rule: { ...goodRule, commissionBps: 3001 } })),
    ).toBe('rule.commission_bps');
    expect(
      fieldOf(() => toSetSplitRuleCommand({ requestId: 'r', rule: { ...goodRule, propertyShareBps: -1 } })),
    ).toBe('rule.property_share_bps');
    expect(
      fieldOf(() => toSetSplitRuleCommand({ requestId: 'r', rule: { ...goodRule, taxBps: 2001 } })),
    ).toBe('rule.tax_bps');
    expect(
      fieldOf(() => toSetSplitRuleCommand({ requestId: 'r', rule: { ...goodRule, autoConfirmHours: 0 } })),
    ).toBe('rule.auto_confirm_hours');
    expect(
      fieldOf(() => toSetSplitRuleCommand({ requestId: 'r', rule: { ...goodRule, projectId: ' ' } })),
    ).toBe('rule.project_id');
  });
});
