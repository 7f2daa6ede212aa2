import { toTimestamp } from '@citybase/platform';
import { domainErrorOf } from '@citybase/platform/testing';
import { ReservationStatus } from '@citybase/contracts/citybase/points/v1/points';
import {
  allocate,
  allocateReturn,
  decideEnd,
  HISTORY_PAGE,
  obligationsOf,
  toIssuePointsCommand,
  toListHistoryQuery,
  toReservePointsCommand,
  toTransferPointsCommand,
} from './accounts.domain';

const ID = '0b9d6b39-2a83-4f0e-9d1c-6d0a4cf2b8e1';
const NOW = new Date('2026-12-06T00:00:00Z');
const S = ReservationStatus;

describe('accounts rules', () => {
  it('allocates earliest expiry first, skipping empty lots, or not at all when short', () => {
    const lots = [
      { lotId: 'a', free: 5n },
      { lotId: 'b', free: 0n },
      { lotId: 'c', free: 10n },
    ];
    expect(allocate(lots, 7n)).toEqual([
      { lotId: 'a', units: 5n },
      { lotId: 'c', units: 2n },
    ]);
    expect(allocate(lots, 15n)).toHaveLength(2);
    expect(allocate(lots, 16n)).toBeUndefined();
  });

  it('confirms or cancels a held reservation, expires one past its deadline, answers a repeat unchanged', () => {
    const r = (status: ReservationStatus, expiresAt = new Date(NOW.getTime() + 1000)) => ({
      reservationId: ID,
      status,
      expiresAt,
    });
    expect(decideEnd(r(S.RESERVATION_STATUS_HELD), 'confirm', NOW)).toBe('apply');
    expect(decideEnd(r(S.RESERVATION_STATUS_HELD), 'cancel', NOW)).toBe('apply');
    expect(decideEnd(r(S.RESERVATION_STATUS_HELD, NOW), 'confirm', NOW)).toBe('expire');
    expect(decideEnd(r(S.RESERVATION_STATUS_CONFIRMED), 'confirm', NOW)).toBe('unchanged');
    expect(decideEnd(r(S.RESERVATION_STATUS_CANCELLED), 'cancel', NOW)).toBe('unchanged');
    const cases: [ReservationStatus, 'confirm' | 'cancel', string][] = [
      [S.RESERVATION_STATUS_CANCELLED, 'confirm', 'RESERVATION_CANCELLED'],
      [S.RESERVATION_STATUS_CONFIRMED, 'cancel', 'RESERVATION_CONFIRMED'],
      [S.RESERVATION_STATUS_EXPIRED, 'confirm', 'RESERVATION_EXPIRED'],
      [S.RESERVATION_STATUS_EXPIRED, 'cancel', 'RESERVATION_EXPIRED'],
    ];
    for (const [status, asked, code] of cases) {
      const err = domainErrorOf(() => decideEnd(r(status), asked, NOW));
      expect([err.kind, err.code]).toEqual(['failed_precondition', code]);
    }
  });

  it('validates an issuance, naming the field it refuses', () => {
    const ok = {
      requestId: 'r-1',
      tenancy: { operatorId: 'op-1' },
      holderId: 'u-1',
      points: 5n,
      reason: 'GOODWILL',
    };
    expect(toIssuePointsCommand(ok, NOW)).toEqual({
      requestId: 'r-1',
      operatorId: 'op-1',
      projectId: '',
      holderId: 'u-1',
      points: 5n,
      reason: 'GOODWILL',
      expiresAtMs: undefined,
    });
    const cases: [Partial<typeof ok> & { expiresAt?: ReturnType<typeof toTimestamp> }, string][] = [
      [{ reason: '' }, 'reason'],
      [{ reason: 'goodwill' }, 'reason'],
      [{ reason: 'X'.repeat(41) }, 'reason'],
      [{ points: 0n }, 'points'],
      [{ points: -1n }, 'points'],
      [{ holderId: '' }, 'holder_id'],
      [{ tenancy: { operatorId: '' } }, 'tenancy.operator_id'],
      [{ expiresAt: toTimestamp(NOW) }, 'expires_at'],
    ];
    for (const [over, field] of cases) {
      const err = domainErrorOf(() => toIssuePointsCommand({ ...ok, ...over }, NOW));
      expect([err.kind, err.detail.field]).toEqual(['invalid_argument', field]);
    }
  });

  it('refuses a reservation TTL above 3600 s', () => {
    const req = { requestId: 'r', tenancy: { operatorId: 'op' }, holderId: 'u', points: 1n };
    expect(toReservePointsCommand({ ...req, ttlSeconds: 3600 }).ttlSeconds).toBe(3600);
    const err = domainErrorOf(() => toReservePointsCommand({ ...req, ttlSeconds: 3601 }));
    expect(err.detail.field).toBe('ttl_seconds');
  });

  it('reads the history page token it issues and refuses a forged one', () => {
    const token = HISTORY_PAGE.encode(['2026-01-02T03:04:05.123456Z', ID]);
    const req = { tenancy: { operatorId: 'op' }, holderId: 'u' };
    expect(toListHistoryQuery({ ...req, page: { pageSize: 10, pageToken: token } }).after).toEqual({
      occurredAt: '2026-01-02T03:04:05.123456Z',
      entryId: ID,
    });
    const err = domainErrorOf(() => toListHistoryQuery({ ...req, page: { pageToken: `${token}x` } }));
    expect([err.kind, err.detail.field]).toEqual(['invalid_argument', 'page.page_token']);
  });

  it('validates transfers: two different holders, positive points, a reason code', () => {
    const ok = {
      requestId: 'r-1',
      tenancy: { operatorId: 'op-1' },
      fromHolderId: 'u-1',
      toHolderId: 'u-2',
      points: 5n,
      reason: 'GIFT',
    };
    expect(toTransferPointsCommand(ok)).toEqual({
      requestId: 'r-1',
      operatorId: 'op-1',
      projectId: '',
      fromHolderId: 'u-1',
      toHolderId: 'u-2',
      points: 5n,
      reason: 'GIFT',
    });
    for (const [over, field] of [
      [{ fromHolderId: '' }, 'from_holder_id'],
      [{ toHolderId: 'u-1' }, 'to_holder_id'],
      [{ points: 0n }, 'points'],
      [{ reason: 'gift' }, 'reason'],
    ] as const) {
      const err = domainErrorOf(() => toTransferPointsCommand({ ...ok, ...over }));
      expect([err.kind, err.detail.field]).toEqual(['invalid_argument', field]);
    }
  });
});

describe('clearing rules', () => {
  const req = {
    requestId: ID,
    tenancy: { operatorId: 'op', projectId: 'p1', merchantId: 'm1' },
    holderId: 'u1',
    points: 5n,
  };

  it('redeemed_at defaults to the request tenancy; given, it needs its operator', () => {
    expect(toReservePointsCommand(req).redeemedAt).toEqual({
      operatorId: 'op',
      projectId: 'p1',
      merchantId: 'm1',
    });
    expect(
      toReservePointsCommand({ ...req, redeemedAt: { operatorId: '', projectId: '', merchantId: '' } })
        .redeemedAt,
    ).toEqual({ operatorId: 'op', projectId: 'p1', merchantId: 'm1' });
    expect(
      toReservePointsCommand({ ...req, redeemedAt: { operatorId: 'op2', projectId: '', merchantId: 'm9' } })
        .redeemedAt,
    ).toEqual({ operatorId: 'op2', projectId: '', merchantId: 'm9' });
    const err = domainErrorOf(() => toReservePointsCommand({ ...req, redeemedAt: { merchantId: 'm9' } }));
    expect([err.kind, err.detail.field]).toEqual(['invalid_argument', 'redeemed_at.operator_id']);
  });

  it('owes per issuer whose operator or project is not where the points are spent', () => {
    const lot = (op: string, project: string, units: bigint) => ({
      issuer_operator_id: op,
      issuer_project_id: project,
      units,
    });
    const units = [lot('a', '', 3n), lot('a', 'p1', 4n), lot('b', '', 5n), lot('a', 'p1', 6n)];
    expect(obligationsOf(units, { operatorId: 'a', projectId: '' })).toEqual([
      { operatorId: 'a', projectId: 'p1', points: 10n },
      { operatorId: 'b', projectId: '', points: 5n },
    ]);
    expect(obligationsOf(units, { operatorId: 'c', projectId: '' }).map((o) => o.points)).toEqual([
      3n,
      10n,
      5n,
    ]);
    expect(obligationsOf([lot('a', 'p1', 2n)], { operatorId: 'a', projectId: 'p1' })).toEqual([]);
  });
});

describe('returns on checkout refunds', () => {
  const spent = [
    { lot_id: 'late', units: 200n, returned: 0n },
    { lot_id: 'early', units: 100n, returned: 0n },
  ];
  it('gives back from the lots in order, each up to what it gave and earlier returns did not give back', () => {
    expect(allocateReturn(90n, spent)).toEqual([{ lotId: 'late', units: 90n }]);
    expect(allocateReturn(210n, [{ ...spent[0]!, returned: 90n }, spent[1]!])).toEqual([
      { lotId: 'late', units: 110n },
      { lotId: 'early', units: 100n },
    ]);
    expect(allocateReturn(300n, spent)).toEqual([
      { lotId: 'late', units: 200n },
      { lotId: 'early', units: 100n },
    ]);
  });
  it('refuses more than is left to return, and nothing at all', () => {
    expect(() => allocateReturn(301n, spent)).toThrow(/only 300 of 301/);
    expect(() => allocateReturn(1n, [{ lot_id: 'x', units: 5n, returned: 5n }])).toThrow(/only 0 of 1/);
    expect(() => allocateReturn(0n, spent)).toThrow(/positive/);
  });
});
