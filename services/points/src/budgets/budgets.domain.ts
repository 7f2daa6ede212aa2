import {
  DomainError,
  keyPart,
  MONTH_PERIOD,
  optionalString,
  pageCursor,
  parsePage,
  requestId,
  requiredString,
  TENANT_ID,
} from '@citybase/platform';
import type {
  GetBudgetRequest,
  ListBudgetsRequest,
  SetBudgetRequest,
} from '@citybase/contracts/citybase/points/v1/points';

/**
 * Pure rules of budgets (docs/points.md "Budgets"): which node a request names, the requests
 * validated into commands (INVALID_ARGUMENT naming the proto field, before anything is read).
 */

export const BUDGET_LEVELS = ['CITY', 'OPERATOR', 'PROJECT'] as const;
export type BudgetLevelName = (typeof BUDGET_LEVELS)[number];

/** A budget node: the city ('' ids), an operator ('' project) or a project, in one period. */
export interface BudgetNode {
  period: string;
  operatorId: string;
  projectId: string;
}

export function levelOf(n: { operatorId: string; projectId: string }): BudgetLevelName {
  if (n.operatorId === '') return 'CITY';
  return n.projectId === '' ? 'OPERATOR' : 'PROJECT';
}

/** The node one level up; undefined for the city. */
export function parentOf(n: BudgetNode): BudgetNode | undefined {
  if (n.operatorId === '') return undefined;
  if (n.projectId === '') return { period: n.period, operatorId: '', projectId: '' };
  return { period: n.period, operatorId: n.operatorId, projectId: '' };
}

/** citybase.common.v1.TenancyRef as a request carries it. */
interface TenancyInput {
  operatorId?: string;
  projectId?: string;
  merchantId?: string;
}

const OPTIONAL_TENANT_ID = /^[A-Za-z0-9._:-]*$/;

function optionalTenantId(field: string, value: string | undefined): string {
  const v = optionalString(field, value, { max: TENANT_ID.max });
  if (!OPTIONAL_TENANT_ID.test(v)) throw DomainError.invalid(field, TENANT_ID.patternRule);
  return v;
}

/** The node of a tenancy: empty (the city), an operator, or an operator and its project. */
export function toNode(tenancy: TenancyInput | undefined, period: string | undefined): BudgetNode {
  const operatorId = optionalTenantId('tenancy.operator_id', tenancy?.operatorId);
  const projectId = optionalTenantId('tenancy.project_id', tenancy?.projectId);
  if (projectId !== '' && operatorId === '')
    throw DomainError.invalid('tenancy.operator_id', 'is required when tenancy.project_id is set');
  if ((tenancy?.merchantId ?? '') !== '')
    throw DomainError.invalid('tenancy.merchant_id', 'must be empty: merchants have no budgets');
  return { period: requiredString('period', period, MONTH_PERIOD), operatorId, projectId };
}

export interface SetBudgetCommand extends BudgetNode {
  requestId: string;
  allotted: bigint;
}

export function toSetBudgetCommand(req: Partial<SetBudgetRequest>): SetBudgetCommand {
  const id = requestId(req.requestId);
  const node = toNode(req.tenancy, req.period);
  const allotted = req.allotted;
  if (typeof allotted !== 'bigint') throw DomainError.invalid('allotted', 'is required');
  if (allotted < 0n) throw DomainError.invalid('allotted', 'must not be negative');
  return { requestId: id, ...node, allotted };
}

export function toGetBudgetQuery(req: Partial<GetBudgetRequest>): BudgetNode {
  return toNode(req.tenancy, req.period);
}

/** Page tokens of ListBudgets: the last child's id (operator id, or project id under an operator). */
export const BUDGETS_PAGE = pageCursor('points.budgets', keyPart.text(TENANT_ID.pattern, TENANT_ID.max));

export interface ListBudgetsQuery {
  /** The parent: the city ('' ids) or an operator. */
  parent: BudgetNode;
  size: number;
  after: string | undefined;
}

export function toListBudgetsQuery(req: Partial<ListBudgetsRequest>): ListBudgetsQuery {
  const parent = toNode(req.tenancy, req.period);
  if (parent.projectId !== '')
    throw DomainError.invalid('tenancy.project_id', 'must be empty: a project has no budgets below it');
  const { size, after } = parsePage(req.page, BUDGETS_PAGE);
  return { parent, size, after: after?.[0] };
}
