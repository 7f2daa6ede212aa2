import { Inject, Injectable } from '@nestjs/common';
import { CitybaseClaims, PG_POOL, Pool, tenancyFilter } from '@citybase/platform';
import type { FundFlowRow, QueryFundFlowsResponse } from '@citybase/contracts/citybase/payment/v1/payment';
import type { FundFlowQuery } from './fund-flows.domain';
import { fundFlows, FundFlowRowDb } from './fund-flows.store';

/** Fund-flow supervision: what was paid and refunded, by day, operator, project, channel and scenario. */
@Injectable()
export class FundFlowsService {
  constructor(@Inject(PG_POOL) private readonly pool: Pool) {}

  /** Only flows inside the caller's tenancy are counted; filters narrow them further. */
  async query(claims: CitybaseClaims, q: FundFlowQuery): Promise<QueryFundFlowsResponse> {
    const rows = (await fundFlows(this.pool, q, tenancyFilter(claims))).map(toRow);
    return { rows, total: total(rows) };
  }
}

function toRow(r: FundFlowRowDb): FundFlowRow {
  return {
    day: r.day ?? '',
    operatorId: r.operator_id ?? '',
    projectId: r.project_id ?? '',
    channelId: r.channel_id ?? '',
    scenario: r.scenario ?? 0,
    currency: r.currency,
    paidMinor: r.paid_minor,
    refundedMinor: r.refunded_minor,
    netMinor: r.paid_minor - r.refunded_minor,
    payments: r.payments,
    refunds: r.refunds,
    checkouts: r.checkouts,
    discountMinor: r.discount_minor,
    pointsValueMinor: r.points_value_minor,
    points: r.points,
    refundedDiscountMinor: r.refunded_discount_minor,
    refundedPointsValueMinor: r.refunded_points_value_minor,
    refundedPoints: r.refunded_points,
  };
}

/** All rows added up; the currency is set when they share one (payments are CNY only today). */
function total(rows: FundFlowRow[]): FundFlowRow {
  const currencies = [...new Set(rows.map((r) => r.currency))];
  const sum = (f: (r: FundFlowRow) => bigint) => rows.reduce((acc, r) => acc + f(r), 0n);
  return {
    day: '',
    operatorId: '',
    projectId: '',
    channelId: '',
    scenario: 0,
    currency: currencies.length === 1 ? (currencies[0] ?? '') : '',
    paidMinor: sum((r) => r.paidMinor),
    refundedMinor: sum((r) => r.refundedMinor),
    netMinor: sum((r) => r.netMinor),
    payments: sum((r) => r.payments),
    refunds: sum((r) => r.refunds),
    checkouts: sum((r) => r.checkouts),
    discountMinor: sum((r) => r.discountMinor),
    pointsValueMinor: sum((r) => r.pointsValueMinor),
    points: sum((r) => r.points),
    refundedDiscountMinor: sum((r) => r.refundedDiscountMinor),
    refundedPointsValueMinor: sum((r) => r.refundedPointsValueMinor),
    refundedPoints: sum((r) => r.refundedPoints),
  };
}
