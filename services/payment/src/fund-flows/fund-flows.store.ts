import type { Pool } from '@citybase/platform';
import {
  FundFlowDimension,
  PaymentScenario,
  PaymentStatus,
  RefundStatus,
} from '@citybase/contracts/citybase/payment/v1/payment';
import { CITY_UTC_OFFSET_HOURS, FundFlowQuery } from './fund-flows.domain';

// Reads the payments and refunds tables (features payments and refunds) on purpose: fund flows are
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
              p.currency, p.amount_minor AS paid, 0::bigint AS refunded, 1 AS payments, 0 AS refunds
         FROM payments p
        WHERE p.status = ${PaymentStatus.PAYMENT_STATUS_SUCCEEDED} AND p.completed_at >= $1 AND p.completed_at < $2
       UNION ALL
       SELECT ${localDay('r.completed_at')}, p.operator_id, p.project_id, r.channel, p.scenario,
              r.currency, 0::bigint, r.amount_minor, 0, 1
         FROM refunds r JOIN payments p USING (payment_id)
        WHERE r.status = ${RefundStatus.REFUND_STATUS_SUCCEEDED} AND r.completed_at >= $1 AND r.completed_at < $2)
     SELECT ${selectDims}, currency,
            sum(paid)::bigint AS paid_minor, sum(refunded)::bigint AS refunded_minor,
            sum(payments)::bigint AS payments, sum(refunds)::bigint AS refunds
       FROM flows
      ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''}
      GROUP BY ${groupColumns}
      ORDER BY ${groupColumns}`,
    params,
  );
  return rows;
}
