import {
  FundFlowDimension,
  PaymentScenario,
  QueryFundFlowsRequest,
} from '@citybase/contracts/citybase/payment/v1/payment';
import { toFundFlowQuery } from './fund-flows.domain';

const req = (over: Partial<QueryFundFlowsRequest> = {}): QueryFundFlowsRequest => ({
  operatorId: '',
  projectId: '',
  channelId: '',
  scenario: 0,
  fromDay: '2026-11-01',
  toDay: '2026-11-30',
  groupBy: [],
  ...over,
});

describe('toFundFlowQuery', () => {
  it('turns the days of UTC+8 into an instant window [from 00:00+08, day after to_day 00:00+08)', () => {
    const q = toFundFlowQuery(req());
    expect(q.from.toISOString()).toBe('2026-10-31T16:00:00.000Z');
    expect(q.toExclusive.toISOString()).toBe('2026-11-30T16:00:00.000Z');
  });

  it('leaves empty filters out and keeps the given ones', () => {
    expect(toFundFlowQuery(req())).not.toHaveProperty('operatorId');
    const q = toFundFlowQuery(
      req({
        operatorId: 'op-1',
        projectId: 'p-1',
        channelId: 'sandbox',
        scenario: PaymentScenario.PAYMENT_SCENARIO_GOODS,
      }),
    );
    expect(q).toMatchObject({
      operatorId: 'op-1',
      projectId: 'p-1',
      channelId: 'sandbox',
      scenario: PaymentScenario.PAYMENT_SCENARIO_GOODS,
    });
  });

  it('allows at most 366 days apart, one day, and a leap day', () => {
    expect(() => toFundFlowQuery(req({ fromDay: '2024-01-01', toDay: '2025-01-01' }))).not.toThrow();
    expect(() => toFundFlowQuery(req({ fromDay: '2024-01-01', toDay: '2025-01-02' }))).toThrow(
      'to_day: must be at most 366 days after from_day',
    );
    expect(() => toFundFlowQuery(req({ fromDay: '2024-02-29', toDay: '2024-02-29' }))).not.toThrow();
    expect(() => toFundFlowQuery(req({ fromDay: '2025-02-29', toDay: '2025-03-01' }))).toThrow(
      'from_day: must be a calendar day YYYY-MM-DD',
    );
  });

  it('keeps the order of group_by and refuses repeats', () => {
    const groupBy = [
      FundFlowDimension.FUND_FLOW_DIMENSION_SCENARIO,
      FundFlowDimension.FUND_FLOW_DIMENSION_DAY,
    ];
    expect(toFundFlowQuery(req({ groupBy })).groupBy).toEqual(groupBy);
    expect(() =>
      toFundFlowQuery(req({ groupBy: [...groupBy, FundFlowDimension.FUND_FLOW_DIMENSION_DAY] })),
    ).toThrow('group_by: must not repeat a dimension');
  });
});
