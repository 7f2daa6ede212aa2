import { domainErrorOf } from '@citybase/platform/testing';
import { PaymentScenario } from '@citybase/contracts/citybase/payment/v1/payment';
import {
  cityDay,
  multiplierOf,
  pointsFor,
  RULES_PAGE,
  takeFrom,
  toListEarningRulesQuery,
  toSetEarningRuleCommand,
  toTakeBack,
} from './earning.domain';

const rule = (over: Record<string, unknown> = {}) => ({
  requestId: 'r-1',
  rule: {
    tenancy: { operatorId: 'op-1', projectId: '', merchantId: '' },
    scenario: PaymentScenario.PAYMENT_SCENARIO_PROPERTY_FEE,
    pointsPerYuan: 2,
    dailyCap: 0n,
    ...over,
  },
});

describe('earning rules', () => {
  it('validates SetEarningRule into a command, naming the field it refuses', () => {
    expect(toSetEarningRuleCommand(rule())).toEqual({
      requestId: 'r-1',
      operatorId: 'op-1',
      projectId: '',
      scenario: PaymentScenario.PAYMENT_SCENARIO_PROPERTY_FEE,
      pointsPerYuan: 2,
      dailyCap: 0n,
    });
    const cases: [Record<string, unknown>, string][] = [
      [{ tenancy: undefined }, 'rule.tenancy.operator_id'],
      [{ tenancy: { operatorId: 'op 1' } }, 'rule.tenancy.operator_id'],
      [{ scenario: 0 }, 'rule.scenario'],
      [{ scenario: 99 }, 'rule.scenario'],
      [{ pointsPerYuan: 10_001 }, 'rule.points_per_yuan'],
      [{ pointsPerYuan: 1.5 }, 'rule.points_per_yuan'],
      [{ dailyCap: -1n }, 'rule.daily_cap'],
    ];
    for (const [over, field] of cases) {
      const err = domainErrorOf(() => toSetEarningRuleCommand(rule(over)));
      expect([err.kind, err.detail.field]).toEqual(['invalid_argument', field]);
    }
    expect(domainErrorOf(() => toSetEarningRuleCommand({ requestId: 'r-1' })).detail.field).toBe('rule');
  });

  it('reads the page token it issues and refuses a forged one', () => {
    const token = RULES_PAGE.encode(['proj-a', 4n]);
    expect(
      toListEarningRulesQuery({ tenancy: { operatorId: 'op-1' }, page: { pageSize: 5, pageToken: token } }),
    ).toEqual({
      operatorId: 'op-1',
      projectId: '',
      size: 5,
      after: { projectId: 'proj-a', scenario: 4 },
    });
    const err = domainErrorOf(() =>
      toListEarningRulesQuery({ tenancy: { operatorId: 'op-1' }, page: { pageToken: `${token}x` } }),
    );
    expect(err.detail.field).toBe('page.page_token');
  });
});

describe('earning arithmetic', () => {
  it('floors per yuan, then the tier multiplier, then clamps to what the daily cap leaves', () => {
    const p = {
      amountMinor: 12_345n,
      pointsPerYuan: 3,
      multiplierPermille: 1000,
      dailyCap: 0n,
      earnedToday: 0n,
    };
    expect(pointsFor(p)).toBe(370n);
    expect(pointsFor({ ...p, multiplierPermille: 1500 })).toBe(555n);
    expect(pointsFor({ ...p, dailyCap: 400n, earnedToday: 100n })).toBe(300n);
    expect(pointsFor({ ...p, dailyCap: 400n, earnedToday: 400n })).toBe(0n);
    expect(pointsFor({ ...p, pointsPerYuan: 0 })).toBe(0n);
    expect(pointsFor({ ...p, amountMinor: 99n, pointsPerYuan: 1 })).toBe(0n);
  });

  it("takes a tier's multiplier from the programme; '' is the first tier, an unknown tier earns 1000 per mille", () => {
    const tiers = [
      { name: 'BASIC', multiplierPermille: 1200 },
      { name: 'GOLD', multiplierPermille: 1500 },
    ];
    expect([
      multiplierOf(tiers, 'GOLD'),
      multiplierOf(tiers, ''),
      multiplierOf(tiers, 'GONE'),
      multiplierOf([], ''),
    ]).toEqual([1500, 1200, 1000, 1000]);
  });

  it('counts the daily cap in city days (UTC+8)', () => {
    expect(cityDay(new Date('2026-12-05T15:59:59Z'))).toBe('2026-12-05');
    expect(cityDay(new Date('2026-12-05T16:00:00Z'))).toBe('2026-12-06');
  });

  it('takes back the refunded share less what was taken, never more than earned', () => {
    expect(toTakeBack({ earned: 100n, reversed: 0n, paid: 10_000n, refundedTotal: 2_500n })).toBe(25n);
    expect(toTakeBack({ earned: 100n, reversed: 25n, paid: 10_000n, refundedTotal: 10_000n })).toBe(75n);
    expect(toTakeBack({ earned: 100n, reversed: 100n, paid: 10_000n, refundedTotal: 10_000n })).toBe(0n);
    expect(toTakeBack({ earned: 100n, reversed: 0n, paid: 10_000n, refundedTotal: 50_000n })).toBe(100n);
    expect(toTakeBack({ earned: 100n, reversed: 50n, paid: 10_000n, refundedTotal: 2_500n })).toBe(0n);
  });

  it('takes from lots in order, skipping empty ones, and says the shortfall', () => {
    const lots = [
      { lotId: 'a', free: 20n },
      { lotId: 'b', free: 0n },
      { lotId: 'c', free: 50n },
    ];
    expect(takeFrom(lots, 30n)).toEqual({
      taken: [
        { lotId: 'a', units: 20n },
        { lotId: 'c', units: 10n },
      ],
      shortfall: 0n,
    });
    expect(takeFrom(lots, 100n).shortfall).toBe(30n);
  });
});
