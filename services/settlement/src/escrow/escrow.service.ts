import { Inject, Injectable } from '@nestjs/common';
import {
  assertTenancy,
  CitybaseClaims,
  inTenancy,
  MutationContext,
  Mutations,
  PG_POOL,
  Pool,
  PoolClient,
  tenancyFilter,
  toTimestamp,
} from '@citybase/platform';
import { EscrowStatus } from '@citybase/contracts/citybase/settlement/v1/settlement';
import { SettlementEvents } from '@citybase/contracts/events';
import { pageOf } from '@citybase/platform';
import { decideOpenDispute, decideResolveDispute } from './escrow.domain';
import { EscrowErrors } from './escrow.errors';
import type {
  ListEscrowOrdersQuery,
  OpenDisputeCommand,
  OrderCommand,
  RefundOrderCommand,
  ResolveDisputeCommand,
} from './escrow.requests';
import { ESCROW_ORDERS_PAGE } from './escrow.requests';
import {
  EscrowOrderRow,
  findOrder,
  findOrderOrCheckout,
  orderIdFor,
  listOrders,
  lockOrder,
  PositionRow,
  positions,
  TenancyScope,
  updateOrder,
} from './escrow.store';
import { EscrowRefunds } from './escrow.refunds';
import { EscrowTransitions, orderState, tenancyOf } from './escrow.transitions';

const scopeOf = (claims: CitybaseClaims): TenancyScope => {
  const f = tenancyFilter(claims);
  return f.all ? { all: true, operatorIds: [], projectIds: [] } : f;
};

/**
 * Escrow's use cases over gRPC. Every mutation is one transaction: the order's row lock first,
 * then the request id (idempotency_keys), then the transition. Another tenant's order answers
 * NOT_FOUND exactly like a missing one.
 */
@Injectable()
export class EscrowService {
  constructor(
    @Inject(PG_POOL) private readonly pool: Pool,
    private readonly mutations: Mutations,
    private readonly transitions: EscrowTransitions,
    private readonly refunds: EscrowRefunds,
  ) {}

  async getOrder(claims: CitybaseClaims, orderId: string): Promise<EscrowOrderRow> {
    const order = await findOrderOrCheckout(this.pool, orderId);
    if (!order || !inTenancy(claims, { operatorId: order.operator_id, projectId: order.project_id }))
      throw EscrowErrors.orderNotFound(orderId);
    return order;
  }

  async listOrders(
    claims: CitybaseClaims,
    q: ListEscrowOrdersQuery,
  ): Promise<{ orders: EscrowOrderRow[]; nextPageToken: string }> {
    const rows = await listOrders(this.pool, q, scopeOf(claims));
    const { rows: orders, nextPageToken } = pageOf(rows, q.size, ESCROW_ORDERS_PAGE, (o) => [
      o.cursor_at,
      o.order_id,
    ]);
    return { orders, nextPageToken };
  }

  async positions(
    claims: CitybaseClaims,
    q: { operatorId: string; projectId: string },
  ): Promise<PositionRow[]> {
    if (q.projectId !== '') assertTenancy(claims, { operatorId: q.operatorId, projectId: q.projectId });
    else if (!inTenancy(claims, { operatorId: q.operatorId }) && (claims.tenancy.projects ?? []).length === 0)
      assertTenancy(claims, { operatorId: q.operatorId });
    return positions(this.pool, q, scopeOf(claims));
  }

  completeOrder(claims: CitybaseClaims, cmd: OrderCommand): Promise<EscrowOrderRow> {
    return this.mutate(claims, 'CompleteOrder', cmd, ({ client, target }) =>
      this.transitions.complete(client, target, 'app'),
    );
  }

  openDispute(claims: CitybaseClaims, cmd: OpenDisputeCommand): Promise<EscrowOrderRow> {
    return this.mutate(claims, 'OpenDispute', cmd, async ({ client, target: order, emit }) => {
      decideOpenDispute(orderState(order));
      const disputed = await updateOrder(client, order.order_id, {
        status: EscrowStatus.ESCROW_STATUS_DISPUTED,
        dispute_reason: cmd.reason,
        disputed_at: new Date(),
      });
      const tenancy = tenancyOf(order);
      await emit(
        SettlementEvents.OrderDisputed,
        {
          orderId: order.order_id,
          tenancy,
          held: { currency: order.currency, amountMinor: disputed.held_minor },
          reason: cmd.reason,
          occurredAt: toTimestamp(disputed.disputed_at ?? new Date()),
        },
        { key: order.order_id, tenancy },
      );
      return disputed;
    });
  }

  resolveDispute(claims: CitybaseClaims, cmd: ResolveDisputeCommand): Promise<EscrowOrderRow> {
    return this.mutate(claims, 'ResolveDispute', cmd, async (ctx) => {
      const { client, target: order, resourceId: refundId, emit } = ctx;
      decideResolveDispute(orderState(order));
      const resolvedAt = new Date();
      let current = await updateOrder(client, order.order_id, {
        dispute_resolution: cmd.resolution,
        dispute_note: cmd.note,
        dispute_resolved_by: claims.sub,
        dispute_resolved_at: resolvedAt,
      });
      let refundMinor = 0n;
      switch (cmd.resolution) {
        case 'release':
          current = await this.transitions.complete(client, current, 'dispute');
          break;
        case 'refund':
        case 'partial': {
          if (cmd.resolution === 'partial') {
            if (cmd.refund.currency !== current.currency)
              throw EscrowErrors.currencyMismatch('refund_amount', current.currency);
            if (cmd.refund.amountMinor >= current.held_minor)
              throw EscrowErrors.partialNotLessThanHeld(current.held_minor);
          }
          refundMinor = cmd.resolution === 'refund' ? current.held_minor : cmd.refund.amountMinor;
          current = await this.refunds.startRefund(client, current, {
            refundId,
            origin: 'dispute',
            amountMinor: refundMinor,
            destination: cmd.destination,
            reason: cmd.note.slice(0, 200),
            requestedBy: claims.sub,
          });
          if (cmd.destination === 'original') {
            // the channel refunds first; a partial resolution then completes the rest
            current = await updateOrder(client, order.order_id, { resolution_refund_id: refundId });
          } else if (cmd.resolution === 'partial') {
            current = await this.transitions.complete(client, current, 'dispute');
          }
          break;
        }
      }
      const tenancy = tenancyOf(order);
      await emit(
        SettlementEvents.DisputeResolved,
        {
          orderId: order.order_id,
          tenancy,
          resolution: cmd.resolution,
          refundAmount: refundMinor > 0n ? { currency: order.currency, amountMinor: refundMinor } : undefined,
          resolvedBy: claims.sub,
          occurredAt: toTimestamp(resolvedAt),
        },
        { key: order.order_id, tenancy },
      );
      return current;
    });
  }

  refundOrder(claims: CitybaseClaims, cmd: RefundOrderCommand): Promise<EscrowOrderRow> {
    return this.mutate(claims, 'RefundOrder', cmd, async ({ client, target: order, resourceId }) => {
      if (cmd.currency !== order.currency) throw EscrowErrors.currencyMismatch('amount', order.currency);
      return this.refunds.startRefund(client, order, {
        refundId: resourceId,
        origin: 'order',
        amountMinor: cmd.amountMinor,
        destination: cmd.destination,
        reason: cmd.reason,
        requestedBy: claims.sub,
      });
    });
  }

  /**
   * One mutation of an order through the pipeline: the order locked and checked against the
   * caller's tenancy (another tenant's order is NOT_FOUND), then `change` at most once per request
   * id (a repeat answers the order as it is now). `change` gets the pipeline's context: the locked
   * order is `target`, `resourceId` a fresh id for what the change creates (a refund), and its
   * events go out through `emit`.
   */
  private mutate<C extends OrderCommand>(
    claims: CitybaseClaims,
    method: string,
    cmd: C,
    change: (ctx: MutationContext<EscrowOrderRow>) => Promise<unknown>,
  ): Promise<EscrowOrderRow> {
    // orders are never deleted; a checkout's id names its order
    const current = async (client: PoolClient) =>
      (await findOrder(client, await orderIdFor(client, cmd.orderId)))!;
    return this.mutations.run({
      method: `SettlementService.${method}`,
      claims,
      requestId: cmd.requestId,
      command: cmd,
      target: {
        load: async (client) => lockOrder(client, await orderIdFor(client, cmd.orderId)),
        tenancy: (order) => ({ operatorId: order.operator_id, projectId: order.project_id }),
        notFound: () => EscrowErrors.orderNotFound(cmd.orderId),
      },
      execute: async (ctx) => {
        ctx.note({ order_id: cmd.orderId });
        await change(ctx);
        return current(ctx.client);
      },
      replay: ({ client }) => current(client),
    });
  }
}
