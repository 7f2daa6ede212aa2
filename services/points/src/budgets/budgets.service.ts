import { Inject, Injectable } from '@nestjs/common';
import {
  assertTenancy,
  CitybaseClaims,
  cityPeriod,
  Mutations,
  pageOf,
  PG_POOL,
  Pool,
  PoolClient,
  TenancyRef,
  toTimestamp,
} from '@citybase/platform';
import { PointsEvents } from '@citybase/contracts/events';
import {
  BudgetNode,
  BUDGETS_PAGE,
  levelOf,
  ListBudgetsQuery,
  parentOf,
  SetBudgetCommand,
} from './budgets.domain';
import { BudgetsErrors } from './budgets.errors';
import { budgetToProto } from './budgets.render';
import {
  addToNode,
  BudgetWithTotals,
  changeAllotment,
  chargeById,
  chargeNode,
  findNode,
  findNodeWithTotals,
  listChildren,
  lockOrCreateNode,
  nodeId,
  nodeLabel,
} from './budgets.store';

/**
 * Who may act on a node, as a tenancy for assertTenancy (PERMISSION_DENIED TENANCY_FORBIDDEN
 * otherwise). `{ operatorId: '' }` is inside the tenancy of a city-level caller only (a city
 * admin with an empty tenancy): no operator or project client names operator ''.
 */
const CITY_LEVEL: TenancyRef = { operatorId: '' };

/** The city's and operators' budgets are set by the city; an operator sets its projects'. */
function managedBy(n: BudgetNode): TenancyRef {
  return levelOf(n) === 'PROJECT' ? { operatorId: n.operatorId } : CITY_LEVEL;
}

/** A node is read by whoever sets it, and by the operator or project it belongs to. */
function readBy(n: BudgetNode): TenancyRef {
  switch (levelOf(n)) {
    case 'CITY':
      return CITY_LEVEL;
    case 'OPERATOR':
      return { operatorId: n.operatorId };
    case 'PROJECT':
      return { operatorId: n.operatorId, projectId: n.projectId };
  }
}

/** The node a charge of `points` by `issuer` at `at` goes to (charge, chargeLast); the caller's bugs refused. */
function chargedNode(
  issuer: { operatorId: string; projectId?: string },
  at: Date,
  points: bigint,
): BudgetNode {
  if (points <= 0n) throw new Error(`charge of ${points} points: must be positive`);
  if (issuer.operatorId === '') throw new Error('charge: the issuer needs an operator');
  return { period: cityPeriod(at), operatorId: issuer.operatorId, projectId: issuer.projectId ?? '' };
}

/**
 * Budgets per period: city > operators > projects (docs/points.md "Budgets"). A node never
 * issues or hands down more than it was allotted (CHECK budgets_within_allotment); SetBudget
 * changes a node and its parent's allotted_to_children in one statement. Other rooms issue
 * against budgets with charge / uncharge / redeemed / expired inside their own transaction.
 */
@Injectable()
export class BudgetsService {
  constructor(
    @Inject(PG_POOL) private readonly pool: Pool,
    private readonly mutations: Mutations,
  ) {}

  // ---- API for other rooms: called inside the caller's transaction (`client`) ----

  /**
   * Charges an issuance of `points` (> 0) to the issuing node of the period of `at` (UTC+8): the
   * project when given, else the operator. One `UPDATE ... SET issued = issued + points`.
   * Throws FAILED_PRECONDITION BUDGET_NOT_SET when the node has no budget for the period, and
   * BUDGET_EXCEEDED when the CHECK refuses (the caller's transaction is then failed: let it roll
   * back). Returns the node's budget_id, to keep with the lot for uncharge/redeemed/expired.
   */
  async charge(
    client: PoolClient,
    issuer: { operatorId: string; projectId?: string },
    at: Date,
    points: bigint,
  ): Promise<string> {
    return chargeNode(client, chargedNode(issuer, at, points), points);
  }

  /**
   * As charge, in two parts, so that the budget row (shared by every issuance of the node) is
   * locked only for the end of the caller's transaction: now, the node's budget id (BUDGET_NOT_SET
   * without one); `apply()`, the caller's last statement before its commit, the guarded
   * `issued += points` (BUDGET_EXCEEDED: the caller's transaction fails and writes nothing).
   */
  async chargeLast(
    client: PoolClient,
    issuer: { operatorId: string; projectId?: string },
    at: Date,
    points: bigint,
  ): Promise<{ budgetId: string; apply: () => Promise<void> }> {
    const node = chargedNode(issuer, at, points);
    const budgetId = await nodeId(client, node);
    return { budgetId, apply: () => chargeById(client, budgetId, node, points) };
  }

  /**
   * Reverses `points` of an earlier charge of the node (issued -= points). Taking back more than
   * the node issued is a bug of the caller: the issued >= 0 CHECK refuses it (an error, not a
   * business outcome).
   */
  async uncharge(client: PoolClient, budgetId: string, points: bigint): Promise<void> {
    if (points <= 0n) throw new Error(`uncharge of ${points} points: must be positive`);
    await addToNode(client, budgetId, 'issued', -points);
  }

  /** Points charged to the node were spent (redeemed += points). */
  async redeemed(client: PoolClient, budgetId: string, points: bigint): Promise<void> {
    if (points <= 0n) throw new Error(`redeemed of ${points} points: must be positive`);
    await addToNode(client, budgetId, 'redeemed', points);
  }

  /** Redeemed points of the node came back by a checkout refund (redeemed -= points). */
  async returned(client: PoolClient, budgetId: string, points: bigint): Promise<void> {
    if (points <= 0n) throw new Error(`returned of ${points} points: must be positive`);
    await addToNode(client, budgetId, 'redeemed', -points);
  }

  /** Points charged to the node expired (expired += points). */
  async expired(client: PoolClient, budgetId: string, points: bigint): Promise<void> {
    if (points <= 0n) throw new Error(`expired of ${points} points: must be positive`);
    await addToNode(client, budgetId, 'expired', points);
  }

  // ---- RPCs ----

  async setBudget(claims: CitybaseClaims, cmd: SetBudgetCommand): Promise<BudgetWithTotals> {
    const node: BudgetNode = { period: cmd.period, operatorId: cmd.operatorId, projectId: cmd.projectId };
    assertTenancy(claims, managedBy(node));
    const current = async ({ client }: { client: PoolClient }) => (await findNodeWithTotals(client, node))!;
    return this.mutations.run({
      method: 'PointsService.SetBudget',
      claims,
      requestId: cmd.requestId,
      command: cmd,
      execute: async (ctx) => {
        const parentNode = parentOf(node);
        const parent = parentNode && (await findNode(ctx.client, parentNode));
        if (parentNode && !parent) throw BudgetsErrors.parentNotSet(node.period);
        const { row, created } = await lockOrCreateNode(
          ctx.client,
          {
            budget_id: ctx.resourceId,
            level: levelOf(node),
            parent_id: parent?.budget_id ?? null,
            updated_by: claims.sub,
          },
          node,
        );
        const delta = cmd.allotted - row.allotted;
        await changeAllotment(ctx.client, row, delta, claims.sub);
        const after = await current(ctx);
        ctx.note({ level: row.level, period: node.period, previous_allotted: row.allotted.toString() });
        if (delta !== 0n || created)
          await ctx.emit(
            PointsEvents.BudgetChanged,
            {
              budget: budgetToProto(after),
              previousAllotted: row.allotted,
              occurredAt: toTimestamp(after.updated_at),
            },
            {
              key: node.operatorId,
              ...(node.operatorId !== '' && {
                tenancy: {
                  operatorId: node.operatorId,
                  ...(node.projectId !== '' && { projectId: node.projectId }),
                },
              }),
            },
          );
        return after;
      },
      replay: current,
    });
  }

  async getBudget(claims: CitybaseClaims, node: BudgetNode): Promise<BudgetWithTotals> {
    assertTenancy(claims, readBy(node));
    const row = await findNodeWithTotals(this.pool, node);
    if (!row) throw BudgetsErrors.notFound(nodeLabel(node), node.period);
    return row;
  }

  /** The children of a node, paged; none when the node has none (or does not exist). */
  async listBudgets(
    claims: CitybaseClaims,
    q: ListBudgetsQuery,
  ): Promise<{ items: BudgetWithTotals[]; nextPageToken: string }> {
    assertTenancy(claims, readBy(q.parent));
    const rows = await listChildren(this.pool, q.parent, q.size, q.after);
    const { rows: items, nextPageToken } = pageOf(rows, q.size, BUDGETS_PAGE, (r) => [
      r.level === 'OPERATOR' ? r.operator_id : r.project_id,
    ]);
    return { items, nextPageToken };
  }
}
