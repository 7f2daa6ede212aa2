import type { Pool } from '@citybase/platform';
import {
  FundFlowDimension,
  PaymentScenario,
  PaymentStatus,
  RefundStatus,
} from '@citybase/contracts/citybase/payment/v1/payment';
import { CITY_UTC_OFFSET_HOURS, FundFlowQuery } from './fund-flows.domain';

// Reads the payments, refunds, checkouts and checkout_refunds tables (features payments, refunds,
// checkouts) on purpose: fund flows are
// a read-only report whose totals group both in one aggregate query; reading them through the two
// services would mean loading every row of the period into this process.

export interface FundFlowRowDb {
  day: string | null;
  operator_id: string | null;
  project_id: string | null;
  channel_id: string | null;
  scenario: PaymentScenario | null;
  currency: string;
  paid_minor: bigint;
  refunded_minor: bigint;
  payments: bigint;
  refunds: bigint;
  checkouts: bigint;
  discount_minor: bigint;
  points_value_minor: bigint;
  points: bigint;
  refunded_discount_minor: bigint;
  refunded_points_value_minor: bigint;
  refunded_points: bigint;
}

/** The caller's part of the tenancy tree (tenancyFilter). */
export type TenancyScope = { all: true } | { all: false; operatorIds: string[]; projectIds: string[] };

const COLUMN: Record<FundFlowDimension, string | undefined> = {
  [FundFlowDimension.FUND_FLOW_DIMENSION_UNSPECIFIED]: undefined,
  [FundFlowDimension.FUND_FLOW_DIMENSION_DAY]: 'day',
  [FundFlowDimension.FUND_FLOW_DIMENSION_OPERATOR]: 'operator_id',
  [FundFlowDimension.FUND_FLOW_DIMENSION_PROJECT]: 'project_id',
  [FundFlowDimension.FUND_FLOW_DIMENSION_CHANNEL]: 'channel_id',
  [FundFlowDimension.FUND_FLOW_DIMENSION_SCENARIO]: 'scenario',
  [FundFlowDimension.UNRECOGNIZED]: undefined,
};

/**
 * Paid (succeeded payments by the day they succeeded) and refunded (succeeded refunds by the day
 * they succeeded, attributed to their payment's operator, project and scenario) in the window,
 * grouped by the query's dimensions and currency, within the caller's tenancy.
 */
export async function fundFlows(pool: Pool, q: FundFlowQuery, scope: TenancyScope): Promise<FundFlowRowDb[]> {
  const params: unknown[] = [q.from, q.toExclusive];
  const param = (v: unknown) => {
    params.push(v);
    return `$${params.length}`;
  };
  const where: string[] = [];
  if (q.operatorId !== undefined) where.push(`operator_id = ${param(q.operatorId)}`);
  if (q.projectId !== undefined) where.push(`project_id = ${param(q.projectId)}`);
  if (q.channelId !== undefined) where.push(`channel_id = ${param(q.channelId)}`);
  if (q.scenario !== undefined) where.push(`scenario = ${param(q.scenario)}`);
  if (!scope.all) {
    where.push(
      `(operator_id = ANY(${param(scope.operatorIds)}::text[]) OR project_id = ANY(${param(scope.projectIds)}::text[]))`,
    );
  }
  const dims = q.groupBy.map((d) => {
    const column = COLUMN[d];
    if (!column) throw new Error(`no column for dimension ${d}`);
    return column;
  });
  const groupColumns = [...dims, 'currency'].join(', ');
  const selectDims = ['day', 'operator_id', 'project_id', 'channel_id', 'scenario']
    .map((c) => (dims.includes(c) ? c : `NULL AS ${c}`))
    .join(', ');
  const localDay = (column: string) =>
    `to_char(${column} AT TIME ZONE 'UTC' + interval '${CITY_UTC_OFFSET_HOURS} hours', 'YYYY-MM-DD')`;
  const { rows } = await pool.query<FundFlowRowDb>(
    `WITH flows AS (
       SELECT ${localDay('p.completed_at')} AS day, p.operator_id, p.project_id, p.channel AS channel_id, p.scenario,
              p.currency, p.amount_minor AS paid, 0::bigint AS refunded, 1 AS payments, 0 AS refunds,
              0 AS checkouts, 0::bigint AS discount, 0::bigint AS points_value, 0::bigint AS points,
              0::bigint AS refunded_discount, 0::bigint AS refunded_points_value, 0::bigint AS refunded_points
         FROM payments p
        WHERE p.status = ${PaymentStatus.PAYMENT_STATUS_SUCCEEDED} AND p.completed_at >= $1 AND p.completed_at < $2
       UNION ALL
       SELECT ${localDay('r.completed_at')}, p.operator_id, p.project_id, r.channel, p.scenario,
              r.currency, 0::bigint, r.amount_minor, 0, 1, 0, 0::bigint, 0::bigint, 0::bigint, 0::bigint, 0::bigint, 0::bigint
         FROM refunds r JOIN payments p USING (payment_id)
        WHERE r.status = ${RefundStatus.REFUND_STATUS_SUCCEEDED} AND r.completed_at >= $1 AND r.completed_at < $2
       -- checkouts (src/checkouts): their coupon and points parts next to the money (which is a payment above)
       UNION ALL
       SELECT ${localDay('c.completed_at')}, c.operator_id, c.project_id, coalesce(p.channel, ''), c.scenario::int,
              c.currency, 0::bigint, 0::bigint, 0, 0, 1, c.discount_minor, c.points_value_minor, c.points,
              0::bigint, 0::bigint, 0::bigint
         FROM checkouts c LEFT JOIN payments p ON p.payment_id = c.payment_id
        WHERE c.status = 'COMPLETED' AND c.completed_at >= $1 AND c.completed_at < $2
       UNION ALL
       SELECT ${localDay('cr.completed_at')}, c.operator_id, c.project_id, coalesce(p.channel, ''), c.scenario::int,
              c.currency, 0::bigint, 0::bigint, 0, 0, 0, 0::bigint, 0::bigint, 0::bigint,
              cr.discount_minor, cr.points_value_minor, cr.points
         FROM checkout_refunds cr JOIN checkouts c USING (checkout_id)
              LEFT JOIN payments p ON p.payment_id = c.payment_id
        WHERE cr.status = 'SUCCEEDED' AND cr.completed_at >= $1 AND cr.completed_at < $2)
     SELECT ${selectDims}, currency,
            sum(paid)::bigint AS paid_minor, sum(refunded)::bigint AS refunded_minor,
            sum(payments)::bigint AS payments, sum(refunds)::bigint AS refunds,
            sum(checkouts)::bigint AS checkouts, sum(discount)::bigint AS discount_minor,
            sum(points_value)::bigint AS points_value_minor, sum(points)::bigint AS points,
            sum(refunded_discount)::bigint AS refunded_discount_minor,
            sum(refunded_points_value)::bigint AS refunded_points_value_minor,
            sum(refunded_points)::bigint AS refunded_points
       FROM flows
      ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''}
      GROUP BY ${groupColumns}
      ORDER BY ${groupColumns}`,
    params,
  );
  return rows;
}
