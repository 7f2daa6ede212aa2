import {
  DomainError,
  keyPart,
  pageCursor,
  parsePage,
  requestId,
  requiredEnum,
  requiredMoney,
  requiredString,
  requiredUuid,
  TENANT_ID,
} from '@citybase/platform';
import {
  CompleteOrderRequest,
  DisputeResolution,
  EscrowStatus,
  GetEscrowPositionsRequest,
  ListEscrowOrdersRequest,
  OpenDisputeRequest,
  RefundDestination,
  RefundOrderRequest,
  ResolveDisputeRequest,
} from '@citybase/contracts/citybase/settlement/v1/settlement';
import { optionalId } from '../request-rules';
import { RefundDestinationName } from './escrow.domain';

/**
 * Validates requests into commands and queries; every check throws INVALID_ARGUMENT naming the
 * proto field, before anything is read or written.
 */

export interface OrderCommand {
  requestId: string;
  orderId: string;
}

export function toCompleteOrderCommand(req: CompleteOrderRequest): OrderCommand {
  return { requestId: requestId(req.requestId), orderId: requiredUuid('order_id', req.orderId) };
}

export interface OpenDisputeCommand extends OrderCommand {
  reason: string;
}

export function toOpenDisputeCommand(req: OpenDisputeRequest): OpenDisputeCommand {
  return {
    requestId: requestId(req.requestId),
    orderId: requiredUuid('order_id', req.orderId),
    reason: requiredString('reason', req.reason, { max: 500 }),
  };
}

export type ResolveDisputeCommand = OrderCommand & { note: string } & (
    | { resolution: 'release' }
    | { resolution: 'refund'; destination: RefundDestinationName }
    | {
        resolution: 'partial';
        refund: { currency: string; amountMinor: bigint };
        destination: RefundDestinationName;
      }
  );

const destinationName = (d: RefundDestination): RefundDestinationName =>
  d === RefundDestination.REFUND_DESTINATION_WALLET ? 'wallet' : 'original';

export function toResolveDisputeCommand(req: ResolveDisputeRequest): ResolveDisputeCommand {
  const base = { requestId: requestId(req.requestId), orderId: requiredUuid('order_id', req.orderId) };
  const resolution = requiredEnum('resolution', req.resolution, DisputeResolution) as DisputeResolution;
  const note = requiredString('note', req.note, { max: 500 });
  const hasAmount =
    req.refundAmount !== undefined &&
    (req.refundAmount.amountMinor !== 0n || req.refundAmount.currency !== '');
  switch (resolution) {
    case DisputeResolution.DISPUTE_RESOLUTION_RELEASE:
      if (hasAmount)
        throw DomainError.invalid('refund_amount', 'must be empty unless the resolution is PARTIAL');
      return { ...base, resolution: 'release', note };
    case DisputeResolution.DISPUTE_RESOLUTION_REFUND: {
      if (hasAmount)
        throw DomainError.invalid(
          'refund_amount',
          'must be empty unless the resolution is PARTIAL (REFUND refunds all held)',
        );
      const destination = requiredEnum(
        'refund_destination',
        req.refundDestination,
        RefundDestination,
      ) as RefundDestination;
      return { ...base, resolution: 'refund', destination: destinationName(destination), note };
    }
    case DisputeResolution.DISPUTE_RESOLUTION_PARTIAL: {
      const refund = requiredMoney('refund_amount', req.refundAmount);
      const destination = requiredEnum(
        'refund_destination',
        req.refundDestination,
        RefundDestination,
      ) as RefundDestination;
      return { ...base, resolution: 'partial', refund, destination: destinationName(destination), note };
    }
    case DisputeResolution.DISPUTE_RESOLUTION_UNSPECIFIED:
    case DisputeResolution.UNRECOGNIZED:
      throw DomainError.invalid('resolution', 'is required');
  }
}

export interface RefundOrderCommand extends OrderCommand {
  currency: string;
  amountMinor: bigint;
  destination: RefundDestinationName;
  reason: string;
}

export function toRefundOrderCommand(req: RefundOrderRequest): RefundOrderCommand {
  const base = { requestId: requestId(req.requestId), orderId: requiredUuid('order_id', req.orderId) };
  const amount = requiredMoney('amount', req.amount);
  const destination = requiredEnum('destination', req.destination, RefundDestination) as RefundDestination;
  return {
    ...base,
    currency: amount.currency,
    amountMinor: amount.amountMinor,
    destination: destinationName(destination),
    reason: requiredString('reason', req.reason, { max: 200 }),
  };
}

/** Page tokens of ListEscrowOrders: the last row's created_at (microseconds, UTC) and order id. */
export const ESCROW_ORDERS_PAGE = pageCursor('settlement.escrow-orders', keyPart.timestamp, keyPart.uuid);

export interface ListEscrowOrdersQuery {
  operatorId: string;
  projectId: string;
  status: EscrowStatus | undefined;
  size: number;
  /** The last row of the previous page: created_at (microseconds, UTC) and order id. */
  after: { createdAt: string; orderId: string } | undefined;
}

export function toListEscrowOrdersQuery(req: ListEscrowOrdersRequest): ListEscrowOrdersQuery {
  const operatorId = optionalId('operator_id', req.operatorId);
  const projectId = optionalId('project_id', req.projectId);
  let status: EscrowStatus | undefined;
  if (req.status !== undefined && req.status !== EscrowStatus.ESCROW_STATUS_UNSPECIFIED)
    status = requiredEnum('status', req.status, EscrowStatus) as EscrowStatus;
  const { size, after } = parsePage(req.page, ESCROW_ORDERS_PAGE);
  return { operatorId, projectId, status, size, after: after && { createdAt: after[0], orderId: after[1] } };
}

export function toGetEscrowPositionsQuery(req: GetEscrowPositionsRequest): {
  operatorId: string;
  projectId: string;
} {
  return {
    operatorId: requiredString('operator_id', req.operatorId, TENANT_ID),
    projectId: optionalId('project_id', req.projectId),
  };
}
