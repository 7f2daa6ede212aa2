import {
  DomainError,
  keyPart,
  optionalString,
  pageCursor,
  parsePage,
  requestId,
  requiredEnum,
  requiredMoney,
  requiredString,
  requiredUuid,
} from '@citybase/platform';
import {
  CompleteOrderRequest,
  DisputeResolution,
  EscrowStatus,
  ExportTaxRecordsRequest,
  GetEscrowPositionsRequest,
  ListEscrowOrdersRequest,
  ListSplitRulesRequest,
  OpenDisputeRequest,
  QueryTaxRecordsRequest,
  RefundDestination,
  RefundOrderRequest,
  ResolveDisputeRequest,
  SetSplitRuleRequest,
} from '@citybase/contracts/citybase/settlement/v1/settlement';
import { ID } from '../request-rules';
import { AUTO_CONFIRM_HOURS, BPS_LIMITS, RefundDestinationName } from './escrow.domain';

/**
 * Validates requests into commands and queries; every check throws INVALID_ARGUMENT naming the
 * proto field, before anything is read or written.
 */

const OPTIONAL_ID = /^[A-Za-z0-9._:-]*$/;

function optionalId(field: string, value: string | undefined): string {
  const v = optionalString(field, value, { max: 64 });
  if (!OPTIONAL_ID.test(v)) throw DomainError.invalid(field, ID.patternRule);
  return v;
}

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
    operatorId: requiredString('rule.operator_id', rule.operatorId, ID),
    projectId: requiredString('rule.project_id', rule.projectId, ID),
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
    operatorId: requiredString('operator_id', req.operatorId, ID),
    projectId: requiredString('project_id', req.projectId, ID),
  };
}

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
    operatorId: requiredString('operator_id', req.operatorId, ID),
    projectId: optionalId('project_id', req.projectId),
  };
}

const PERIOD = { max: 7, pattern: /^\d{4}-(0[1-9]|1[0-2])$/, patternRule: 'must be a month YYYY-MM' };

/** Page tokens of QueryTaxRecords: the last row's merchant id and currency. */
export const TAX_RECORDS_PAGE = pageCursor(
  'settlement.tax-records',
  keyPart.text(ID.pattern, ID.max),
  keyPart.text(/^[A-Z]{3}$/, 3),
);

export interface QueryTaxRecordsQuery {
  operatorId: string;
  period: string;
  merchantId: string;
  size: number;
  /** The last row of the previous page: merchant id and currency. */
  after: { merchantId: string; currency: string } | undefined;
}

export function toQueryTaxRecordsQuery(req: QueryTaxRecordsRequest): QueryTaxRecordsQuery {
  const operatorId = requiredString('operator_id', req.operatorId, ID);
  const period = requiredString('period', req.period, PERIOD);
  const merchantId = optionalId('merchant_id', req.merchantId);
  const { size, after } = parsePage(req.page, TAX_RECORDS_PAGE);
  return {
    operatorId,
    period,
    merchantId,
    size,
    after: after && { merchantId: after[0], currency: after[1] },
  };
}

export function toExportTaxRecordsQuery(req: ExportTaxRecordsRequest): {
  operatorId: string;
  period: string;
} {
  return {
    operatorId: requiredString('operator_id', req.operatorId, ID),
    period: requiredString('period', req.period, PERIOD),
  };
}
