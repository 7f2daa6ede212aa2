import {
  courierCodeExpiry,
  courierCodeHash,
  decideCodeUse,
  GrantView,
  grantOpening,
  newCourierCode,
} from './access.domain';

const now = new Date('2026-12-06T08:00:00Z');
const grant = (over: Partial<GrantView> = {}): GrantView => ({
  grantId: 'g1',
  residentId: 'r1',
  buildingId: null,
  unitId: 'u1',
  status: 'ACTIVE',
  validUntil: null,
  ...over,
});

describe('door opening by grant', () => {
  const unitDoor = { buildingId: null, unitId: 'u1' };

  it('opens for a resident holding an active grant for this unit', () => {
    expect(grantOpening(unitDoor, new Set(['r1']), [grant()], now)?.grantId).toBe('g1');
  });

  it('opens for a household member of the grant holder', () => {
    expect(grantOpening(unitDoor, new Set(['r2', 'r1']), [grant()], now)).toBeDefined();
  });

  it('refuses a non-resident, a revoked or expired grant, and another door', () => {
    expect(grantOpening(unitDoor, new Set(['stranger']), [grant()], now)).toBeUndefined();
    expect(grantOpening(unitDoor, new Set(['r1']), [grant({ status: 'REVOKED' })], now)).toBeUndefined();
    expect(grantOpening(unitDoor, new Set(['r1']), [grant({ validUntil: now })], now)).toBeUndefined();
    expect(grantOpening({ buildingId: null, unitId: 'u2' }, new Set(['r1']), [grant()], now)).toBeUndefined();
    expect(grantOpening({ buildingId: 'b1', unitId: null }, new Set(['r1']), [grant()], now)).toBeUndefined();
  });
});

describe('courier one-time codes', () => {
  const door = { buildingId: 'b1', unitId: null };
  const later = new Date(now.getTime() + 3_600_000);

  it('enters once, exits once, then is used up', () => {
    expect(decideCodeUse('ISSUED', later, 'b1', door, now)).toEqual({
      kind: 'ALLOW',
      use: 'ENTRY',
      next: 'ENTERED',
    });
    expect(decideCodeUse('ENTERED', later, 'b1', door, now)).toEqual({
      kind: 'ALLOW',
      use: 'EXIT',
      next: 'EXITED',
    });
    expect(decideCodeUse('EXITED', later, 'b1', door, now)).toMatchObject({
      kind: 'REFUSE',
      code: 'CODE_USED',
    });
  });

  it('refuses an expired, revoked or other building code; exit is allowed after expiry', () => {
    expect(decideCodeUse('ISSUED', now, 'b1', door, now)).toMatchObject({ code: 'CODE_EXPIRED' });
    expect(decideCodeUse('REVOKED', later, 'b1', door, now)).toMatchObject({ code: 'CODE_REVOKED' });
    expect(decideCodeUse('ISSUED', later, 'b2', door, now)).toMatchObject({ code: 'CODE_WRONG_GATE' });
    expect(decideCodeUse('ENTERED', now, 'b1', door, later)).toMatchObject({ kind: 'ALLOW', use: 'EXIT' });
  });

  it('codes are 6 digits, hashed per project, with a bounded lifetime', () => {
    expect(newCourierCode()).toMatch(/^\d{6}$/);
    expect(courierCodeHash('p1', '123456')).not.toBe(courierCodeHash('p2', '123456'));
    expect(courierCodeExpiry(0, now).getTime() - now.getTime()).toBe(2 * 3_600_000);
    expect(() => courierCodeExpiry(24 * 3600 + 1, now)).toThrow('ttl_seconds: must be from 0 to 86400');
  });
});
