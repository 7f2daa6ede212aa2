import { DomainError, toTimestamp } from '@citybase/platform';
import { requiredDoor, toCheckDoorAccessQuery, toIssueDoorGrantCommand } from './access.domain';

const A = 'aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa';
const B = 'bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb';

function fieldOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(DomainError);
    expect((err as DomainError).kind).toBe('invalid_argument');
    return (err as DomainError).detail.field;
  }
  throw new Error('expected INVALID_ARGUMENT');
}

describe('requiredDoor', () => {
  it('takes exactly one of building_id and unit_id', () => {
    expect(requiredDoor(A, '')).toEqual({ buildingId: A });
    expect(requiredDoor('', B.toUpperCase())).toEqual({ unitId: B });
    expect(fieldOf(() => requiredDoor('', ''))).toBe('building_id');
    expect(fieldOf(() => requiredDoor(A, B))).toBe('unit_id');
    expect(fieldOf(() => requiredDoor('x', ''))).toBe('building_id');
    expect(fieldOf(() => requiredDoor('', 'x'))).toBe('unit_id');
  });
});

describe('toIssueDoorGrantCommand', () => {
  const now = new Date('2026-01-01T00:00:00Z');
  const req = {
    requestId: 'r',
    residentId: A,
    buildingId: B,
    unitId: '',
    issuedByStaffId: A,
    validUntil: undefined,
  };

  it('keeps an unset valid_until as "no end" and a future one as a date', () => {
    expect(toIssueDoorGrantCommand(req, now).validUntil).toBeNull();
    const later = new Date('2026-06-01T00:00:00Z');
    expect(toIssueDoorGrantCommand({ ...req, validUntil: toTimestamp(later) }, now).validUntil).toEqual(
      later,
    );
  });

  it('refuses a valid_until now or in the past, and a malformed one', () => {
    expect(fieldOf(() => toIssueDoorGrantCommand({ ...req, validUntil: toTimestamp(now) }, now))).toBe(
      'valid_until',
    );
    expect(
      fieldOf(() => toIssueDoorGrantCommand({ ...req, validUntil: { seconds: 1n, nanos: -1 } }, now)),
    ).toBe('valid_until');
    expect(
      fieldOf(() => toIssueDoorGrantCommand({ ...req, validUntil: { seconds: 10n ** 15n, nanos: 0 } }, now)),
    ).toBe('valid_until');
  });

  it('names each bad id', () => {
    expect(fieldOf(() => toIssueDoorGrantCommand({ ...req, residentId: '' }, now))).toBe('resident_id');
    expect(fieldOf(() => toIssueDoorGrantCommand({ ...req, issuedByStaffId: 'nope' }, now))).toBe(
      'issued_by_staff_id',
    );
    expect(fieldOf(() => toIssueDoorGrantCommand({ ...req, requestId: 'a b' }, now))).toBe('request_id');
    expect(fieldOf(() => toCheckDoorAccessQuery({ residentId: A, buildingId: '', unitId: '' }))).toBe(
      'building_id',
    );
  });
});
