import { domainErrorOf } from '@citybase/platform/testing';
import { BUDGETS_PAGE, levelOf, parentOf, toListBudgetsQuery, toSetBudgetCommand } from './budgets.domain';

const t = (operatorId = '', projectId = '', merchantId = '') => ({ operatorId, projectId, merchantId });

describe('budget nodes', () => {
  it('are the city, an operator or a project, one below the other', () => {
    const project = { period: '2026-12', operatorId: 'op-1', projectId: 'p-1' };
    expect(levelOf(project)).toBe('PROJECT');
    expect(parentOf(project)).toEqual({ period: '2026-12', operatorId: 'op-1', projectId: '' });
    expect(levelOf(parentOf(project)!)).toBe('OPERATOR');
    expect(parentOf(parentOf(project)!)).toEqual({ period: '2026-12', operatorId: '', projectId: '' });
    expect(parentOf({ period: '2026-12', operatorId: '', projectId: '' })).toBeUndefined();
  });
});

describe('budget requests', () => {
  it('validate into commands, naming the field they refuse', () => {
    expect(toSetBudgetCommand({ requestId: 'r', tenancy: t(), period: '2026-12', allotted: 0n })).toEqual({
      requestId: 'r',
      period: '2026-12',
      operatorId: '',
      projectId: '',
      allotted: 0n,
    });
    const cases: [Parameters<typeof toSetBudgetCommand>[0], string][] = [
      [{ tenancy: t(), period: '2026-12', allotted: 1n }, 'request_id'],
      [{ requestId: 'r', tenancy: t(), period: '2026-12' }, 'allotted'],
      [{ requestId: 'r', tenancy: t(), period: '2026-12', allotted: -1n }, 'allotted'],
      [{ requestId: 'r', tenancy: t(), period: '2026-00', allotted: 1n }, 'period'],
      [{ requestId: 'r', tenancy: t(), allotted: 1n }, 'period'],
      [{ requestId: 'r', tenancy: t('', 'p'), period: '2026-12', allotted: 1n }, 'tenancy.operator_id'],
      [{ requestId: 'r', tenancy: t('o', 'p p'), period: '2026-12', allotted: 1n }, 'tenancy.project_id'],
      [{ requestId: 'r', tenancy: t('o', 'p', 'm'), period: '2026-12', allotted: 1n }, 'tenancy.merchant_id'],
    ];
    for (const [req, field] of cases) {
      const err = domainErrorOf(() => toSetBudgetCommand(req));
      expect([err.kind, err.detail.field]).toEqual(['invalid_argument', field]);
    }
  });

  it('list the children of the city or an operator, with the tokens they issue', () => {
    const token = BUDGETS_PAGE.encode(['op-7']);
    expect(
      toListBudgetsQuery({ tenancy: t(), period: '2026-12', page: { pageSize: 2, pageToken: token } }),
    ).toEqual({
      parent: { period: '2026-12', operatorId: '', projectId: '' },
      size: 2,
      after: 'op-7',
    });
    expect(
      domainErrorOf(() => toListBudgetsQuery({ tenancy: t('o', 'p'), period: '2026-12' })).detail.field,
    ).toBe('tenancy.project_id');
    expect(
      domainErrorOf(() =>
        toListBudgetsQuery({
          tenancy: t(),
          period: '2026-12',
          page: { pageSize: 0, pageToken: `${token}x` },
        }),
      ).detail.field,
    ).toBe('page.page_token');
  });
});
