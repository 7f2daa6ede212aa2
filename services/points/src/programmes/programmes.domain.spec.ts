import { domainErrorOf } from '@citybase/platform/testing';
import { SetProgrammeRequest, ShortfallPolicy } from '@citybase/contracts/citybase/points/v1/points';
import { toGetProgrammeQuery, toSetProgrammeCommand } from './programmes.domain';

type ProgrammeInput = NonNullable<SetProgrammeRequest['programme']>;

const goodProgramme = (over: Partial<ProgrammeInput> = {}): ProgrammeInput => ({
  tenancy: { operatorId: 'op-1', projectId: '', merchantId: '' },
  pointValue: { currency: 'CNY', amountMinor: 1n },
  lotLifetimeDays: 365,
  refundWindowHours: 168,
  shortfallPolicy: ShortfallPolicy.SHORTFALL_POLICY_DEBT,
  expiryNoticeDays: 30,
  tiers: [
    { name: 'Bronze', threshold: 0n, multiplierPermille: 1000 },
    { name: 'Silver', threshold: 1000n, multiplierPermille: 1500 },
  ],
  tierWindowDays: 365,
  updatedAt: undefined,
  ...over,
});

describe('programme requests', () => {
  it('validates a programme into a command', () => {
    expect(toSetProgrammeCommand({ requestId: 'r-1', programme: goodProgramme() })).toEqual({
      requestId: 'r-1',
      operatorId: 'op-1',
      pointValue: { currency: 'CNY', amountMinor: 1n },
      lotLifetimeDays: 365,
      refundWindowHours: 168,
      shortfallPolicy: 'DEBT',
      expiryNoticeDays: 30,
      tiers: [
        { name: 'Bronze', threshold: 0n, multiplierPermille: 1000 },
        { name: 'Silver', threshold: 1000n, multiplierPermille: 1500 },
      ],
      tierWindowDays: 365,
    });
    // the edges of every range are accepted, and no tiers at all
    expect(
      toSetProgrammeCommand({
        requestId: 'r',
        programme: goodProgramme({
          lotLifetimeDays: 3650,
          refundWindowHours: 0,
          expiryNoticeDays: 90,
          tierWindowDays: 730,
          tiers: [],
        }),
      }).tiers,
    ).toEqual([]);
  });

  it('names the field it refuses', () => {
    const tier = (name: string, threshold: bigint, multiplierPermille = 1000) => ({
      name,
      threshold,
      multiplierPermille,
    });
    const cases: [Partial<SetProgrammeRequest>, string, RegExp?][] = [
      [{ programme: goodProgramme() }, 'request_id'],
      [{ requestId: 'r' }, 'programme'],
      [{ requestId: 'r', programme: goodProgramme({ tenancy: undefined }) }, 'programme.tenancy.operator_id'],
      [
        {
          requestId: 'r',
          programme: goodProgramme({ tenancy: { operatorId: 'op-1', projectId: 'p', merchantId: '' } }),
        },
        'programme.tenancy.project_id',
      ],
      [{ requestId: 'r', programme: goodProgramme({ pointValue: undefined }) }, 'programme.point_value'],
      [
        { requestId: 'r', programme: goodProgramme({ pointValue: { currency: 'CNY', amountMinor: 0n } }) },
        'programme.point_value.amount_minor',
      ],
      [
        { requestId: 'r', programme: goodProgramme({ pointValue: { currency: 'cny', amountMinor: 1n } }) },
        'programme.point_value.currency',
      ],
      [{ requestId: 'r', programme: goodProgramme({ lotLifetimeDays: 0 }) }, 'programme.lot_lifetime_days'],
      [
        { requestId: 'r', programme: goodProgramme({ lotLifetimeDays: 3651 }) },
        'programme.lot_lifetime_days',
      ],
      [
        { requestId: 'r', programme: goodProgramme({ refundWindowHours: -1 }) },
        'programme.refund_window_hours',
      ],
      [
        { requestId: 'r', programme: goodProgramme({ refundWindowHours: 2161 }) },
        'programme.refund_window_hours',
      ],
      [{ requestId: 'r', programme: goodProgramme({ shortfallPolicy: 0 }) }, 'programme.shortfall_policy'],
      [
        { requestId: 'r', programme: goodProgramme({ shortfallPolicy: 7 as ShortfallPolicy }) },
        'programme.shortfall_policy',
      ],
      [
        { requestId: 'r', programme: goodProgramme({ expiryNoticeDays: 91 }) },
        'programme.expiry_notice_days',
      ],
      [{ requestId: 'r', programme: goodProgramme({ tierWindowDays: 0 }) }, 'programme.tier_window_days'],
      [{ requestId: 'r', programme: goodProgramme({ tierWindowDays: 731 }) }, 'programme.tier_window_days'],
      [
        {
          requestId: 'r',
          programme: goodProgramme({ tiers: Array.from({ length: 11 }, (_, i) => tier(`t${i}`, BigInt(i))) }),
        },
        'programme.tiers',
      ],
      [
        { requestId: 'r', programme: goodProgramme({ tiers: [tier('A', 1n)] }) },
        'programme.tiers[0].threshold',
      ],
      [
        { requestId: 'r', programme: goodProgramme({ tiers: [tier('A', 0n), tier('B', 0n)] }) },
        'programme.tiers[1].threshold',
        /^programme\.tiers\[1\]\.threshold: must be greater than the previous tier's$/,
      ],
      [{ requestId: 'r', programme: goodProgramme({ tiers: [tier('', 0n)] }) }, 'programme.tiers[0].name'],
      [
        { requestId: 'r', programme: goodProgramme({ tiers: [tier('x'.repeat(41), 0n)] }) },
        'programme.tiers[0].name',
      ],
      [
        { requestId: 'r', programme: goodProgramme({ tiers: [tier('A', 0n), tier('A', 5n)] }) },
        'programme.tiers[1].name',
      ],
      [
        { requestId: 'r', programme: goodProgramme({ tiers: [tier('A', 0n, 999)] }) },
        'programme.tiers[0].multiplier_permille',
      ],
      [
        { requestId: 'r', programme: goodProgramme({ tiers: [tier('A', 0n, 10_001)] }) },
        'programme.tiers[0].multiplier_permille',
      ],
    ];
    for (const [req, field, message] of cases) {
      const err = domainErrorOf(() => toSetProgrammeCommand(req));
      expect([err.kind, err.detail.field]).toEqual(['invalid_argument', field]);
      if (message) expect(err.message).toMatch(message);
    }
  });

  it('reads a programme of an operator, not of a project', () => {
    expect(toGetProgrammeQuery({ tenancy: { operatorId: 'op-1', projectId: '', merchantId: '' } })).toEqual({
      operatorId: 'op-1',
    });
    expect(domainErrorOf(() => toGetProgrammeQuery({})).detail.field).toBe('tenancy.operator_id');
    expect(
      domainErrorOf(() =>
        toGetProgrammeQuery({ tenancy: { operatorId: 'o', projectId: 'p', merchantId: '' } }),
      ).detail.field,
    ).toBe('tenancy.project_id');
  });
});
