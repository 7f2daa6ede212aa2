import {
  decideExit,
  MonthlyPass,
  normalisePlate,
  ParkingTariff,
  parkingFee,
  validateTariff,
} from './parking.domain';

const tariff: ParkingTariff = {
  currency: 'CNY',
  freeMinutes: 15,
  hourlyRateMinor: 500n,
  dailyCapMinor: 3_000n,
};
const T0 = new Date('2026-12-06T08:00:00Z');
const min = (m: number) => new Date(T0.getTime() + m * 60_000);

describe('parking fee', () => {
  it('is free within the free minutes', () => {
    expect(parkingFee(tariff, T0, min(15)).amountMinor).toBe(0n);
  });

  it('charges every started hour from the entry once the free minutes are exceeded', () => {
    expect(parkingFee(tariff, T0, min(16)).amountMinor).toBe(500n);
    expect(parkingFee(tariff, T0, min(60)).amountMinor).toBe(500n);
    expect(parkingFee(tariff, T0, min(61)).amountMinor).toBe(1_000n);
  });

  it('caps each 24-hour period at the daily cap', () => {
    expect(parkingFee(tariff, T0, min(10 * 60)).amountMinor).toBe(3_000n);
    // 1 day + 2 h: cap + 2 hours
    expect(parkingFee(tariff, T0, min(26 * 60)).amountMinor).toBe(3_000n + 1_000n);
    expect(parkingFee({ ...tariff, dailyCapMinor: 0n }, T0, min(10 * 60)).amountMinor).toBe(5_000n);
  });

  it('a pass valid at exit makes the stay free', () => {
    const pass: MonthlyPass = { validFrom: min(-60 * 24), validUntil: min(60 * 24 * 29) };
    expect(parkingFee(tariff, T0, min(600), [pass])).toMatchObject({ amountMinor: 0n, passApplied: true });
  });

  it('a pass that ended during the stay charges from its end', () => {
    const pass: MonthlyPass = { validFrom: min(-60 * 24), validUntil: min(120) };
    expect(parkingFee(tariff, T0, min(150), [pass])).toMatchObject({ amountMinor: 500n, passApplied: true });
  });

  it('refuses an exit before the entry', () => {
    expect(() => parkingFee(tariff, T0, min(-1))).toThrow('exit_at');
  });
});

describe('exit decision', () => {
  it('opens at once when free, asks a payment otherwise, and is unchanged on a second read', () => {
    expect(decideExit('OPEN', tariff, T0, min(5), []).kind).toBe('OPEN_GATE');
    expect(decideExit('OPEN', tariff, T0, min(90), [])).toMatchObject({
      kind: 'REQUEST_PAYMENT',
      fee: { amountMinor: 1_000n },
    });
    expect(decideExit('AWAITING_PAYMENT', tariff, T0, min(95), []).kind).toBe('UNCHANGED');
  });
});

describe('tariff and plate validation', () => {
  it('names the field and rule', () => {
    expect(() => validateTariff({ ...tariff, freeMinutes: -1 })).toThrow('tariff.free_minutes');
    expect(() => validateTariff({ ...tariff, dailyCapMinor: 100n })).toThrow('tariff.daily_cap');
    expect(() => normalisePlate('x')).toThrow('plate: must be 5-10 letters or digits');
    expect(normalisePlate('粤b 12345')).toBe('粤B12345');
  });
});
