import {
  ChargingDecision,
  ChargingEvent,
  ChargingPaymentState,
  ChargingSessionView,
  chargingBill,
  ChargingTariff,
  decideEvent,
  decidePay,
  decideStart,
  fromChargerMessage,
  MeterReading,
  sessionEnergyWh,
  toPayChargingSession,
  validateChargingTariff,
} from './charging.domain';

// City time is UTC+8: 00:00 UTC = 08:00 in the city.
const at = (utc: string) => new Date(`2026-12-06T${utc}Z`);
const ev = (
  seq: number,
  type: ChargingEvent['type'],
  registerWh?: bigint,
  t = '00:00:00',
): ChargingEvent => ({
  seq,
  type,
  registerWh,
  at: at(t),
});

/** Applies events as the store would, returning the session and what each event answered. */
function run(
  events: ChargingEvent[],
  floor = 0n,
): { s: ChargingSessionView; answers: string[]; readings: MeterReading[]; bills: number } {
  let s: ChargingSessionView | undefined;
  const answers: string[] = [];
  const readings: MeterReading[] = [];
  let bills = 0;
  for (const e of events) {
    const d: ChargingDecision = s ? decideEvent(s, e) : decideStart(e, floor);
    answers.push(d.kind === 'REFUSE' ? d.code : d.kind);
    if (d.kind === 'APPLY') {
      s = {
        state: d.state,
        lastSeq: e.seq,
        firstRegisterWh: d.firstRegisterWh,
        lastRegisterWh: d.lastRegisterWh,
        chargerFloorWh: floor,
      };
      if (d.reading) readings.push(d.reading);
      if (d.bill) bills++;
    } else if (d.kind === 'REFUSE' && d.fault && s) {
      s = { ...s, state: 'FAULTED', lastSeq: e.seq };
    }
  }
  if (!s) throw new Error('no session');
  return { s, answers, readings, bills };
}

describe('charging session events', () => {
  it('energy = last - first register, billed once at STOP', () => {
    const r = run([ev(1, 'START', 10_000n), ev(2, 'METER', 15_000n), ev(3, 'STOP', 22_000n)]);
    expect(r.answers).toEqual(['APPLY', 'APPLY', 'APPLY']);
    expect(r.s.state).toBe('STOPPED');
    expect(sessionEnergyWh(r.s)).toBe(12_000n);
    expect(r.bills).toBe(1);
  });

  it('a retried stop is a duplicate and never bills twice (citrineos #880)', () => {
    const r = run([
      ev(1, 'START', 0n + 5n),
      ev(2, 'STOP', 1_005n),
      ev(2, 'STOP', 1_005n),
      ev(3, 'STOP', 2_000n),
    ]);
    expect(r.answers).toEqual(['APPLY', 'APPLY', 'DUPLICATE', 'SESSION_ENDED']);
    expect(r.bills).toBe(1);
    expect(sessionEnergyWh(r.s)).toBe(1_000n);
  });

  it('meterStop < meterStart is refused and faults the session, unbilled (SteVe #1297)', () => {
    const r = run([ev(1, 'START', 50_000n), ev(2, 'STOP', 49_000n)]);
    expect(r.answers).toEqual(['APPLY', 'METER_NOT_MONOTONIC']);
    expect(r.s.state).toBe('FAULTED');
    expect(r.bills).toBe(0);
  });

  it('a meter value going backwards is refused without ending the session', () => {
    const r = run([ev(1, 'START', 50_000n), ev(2, 'METER', 49_000n)]);
    expect(r.answers).toEqual(['APPLY', 'METER_NOT_MONOTONIC']);
    expect(r.s.state).toBe('ACTIVE');
    expect(r.s.lastSeq).toBe(1);
  });

  it('an offline start with a bogus register never bills it (citrineos #1060)', () => {
    // The charger had counted 800,000 Wh; its offline start reported 0.
    const r = run([ev(1, 'START', 0n), ev(2, 'METER', 800_500n), ev(3, 'STOP', 801_000n)], 800_000n);
    expect(r.answers).toEqual(['APPLY', 'APPLY', 'APPLY']);
    expect(sessionEnergyWh(r.s)).toBe(500n);
    expect(r.bills).toBe(1);
  });

  it('buffered events replayed in order are applied; a gap waits for the missing one', () => {
    let s: ChargingSessionView = {
      state: 'ACTIVE',
      lastSeq: 1,
      firstRegisterWh: 100n,
      lastRegisterWh: 100n,
      chargerFloorWh: 0n,
    };
    expect(decideEvent(s, ev(3, 'METER', 300n))).toEqual({ kind: 'GAP', expectedSeq: 2 });
    const d = decideEvent(s, ev(2, 'METER', 200n));
    expect(d).toMatchObject({ kind: 'APPLY', lastRegisterWh: 200n });
    s = { ...s, lastSeq: 2, lastRegisterWh: 200n };
    expect(decideEvent(s, ev(3, 'METER', 300n))).toMatchObject({ kind: 'APPLY', lastRegisterWh: 300n });
  });

  it('a session begins with START seq 1 only', () => {
    expect(decideStart(ev(2, 'START', 1n), 0n)).toMatchObject({ kind: 'REFUSE', code: 'BAD_SEQUENCE' });
    expect(decideStart(ev(1, 'METER', 1n), 0n)).toMatchObject({ kind: 'REFUSE', code: 'BAD_SEQUENCE' });
  });
});

describe('charging bill', () => {
  // 08:00-18:00 city time 1.00/kWh (peak), otherwise 0.40/kWh; service fee 0.80/kWh.
  const tariff: ChargingTariff = validateChargingTariff({
    currency: 'CNY',
    bands: [
      { fromMinute: 8 * 60, priceMinorPerKwh: 100n },
      { fromMinute: 0, priceMinorPerKwh: 40n },
      { fromMinute: 18 * 60, priceMinorPerKwh: 40n },
    ],
    serviceFeeMinorPerKwh: 80n,
  });

  it('prices energy by the band it was charged in, plus the service fee', () => {
    // 10 kWh between 09:00 and 10:00 city time (01:00-02:00 UTC): all peak.
    const bill = chargingBill(tariff, [
      { at: at('01:00:00'), registerWh: 1_000n },
      { at: at('02:00:00'), registerWh: 11_000n },
    ]);
    expect(bill).toEqual({
      energyWh: 10_000n,
      energyMinor: 1_000n,
      serviceFeeMinor: 800n,
      totalMinor: 1_800n,
    });
  });

  it('splits an interval across a band boundary by time', () => {
    // 17:00-19:00 city time (09:00-11:00 UTC), 10 kWh evenly: 5 kWh peak + 5 kWh off-peak.
    const bill = chargingBill(tariff, [
      { at: at('09:00:00'), registerWh: 0n },
      { at: at('11:00:00'), registerWh: 10_000n },
    ]);
    expect(bill.energyMinor).toBe(500n + 200n);
    expect(bill.totalMinor).toBe(700n + 800n);
  });

  it('is zero for a session without energy', () => {
    expect(chargingBill(tariff, []).totalMinor).toBe(0n);
    expect(chargingBill(tariff, [{ at: at('01:00:00'), registerWh: 5n }]).totalMinor).toBe(0n);
  });

  it('refuses a tariff without a band from midnight', () => {
    expect(() =>
      validateChargingTariff({ ...tariff, bands: [{ fromMinute: 60, priceMinorPerKwh: 1n }] }),
    ).toThrow('tariff.bands: the first band must start at minute 0');
  });
});

describe('a charger event over MQTT (fromChargerMessage)', () => {
  const t = at('01:00:00');
  it('reads START with its user, METER with a register as a number or a decimal string', () => {
    expect(
      fromChargerMessage(
        'CHARGER_START',
        { transaction_id: 'tx1', seq: 1, register_wh: 1000, user_id: 'u1' },
        t,
      ),
    ).toEqual({ transactionId: 'tx1', seq: 1, type: 'START', registerWh: 1000n, at: t, userId: 'u1' });
    expect(
      fromChargerMessage('CHARGER_METER', { transaction_id: 'tx1', seq: 2, register_wh: '123456789012' }, t),
    ).toEqual({ transactionId: 'tx1', seq: 2, type: 'METER', registerWh: 123456789012n, at: t, userId: '' });
    expect(
      fromChargerMessage('CHARGER_STOP', { transaction_id: 'tx1', seq: 3 }, t).registerWh,
    ).toBeUndefined();
  });
  it('refuses what is not a session event, naming the field', () => {
    expect(() => fromChargerMessage('CHARGER_PAUSE', { transaction_id: 'tx', seq: 1 }, t)).toThrow('type');
    expect(() => fromChargerMessage('CHARGER_METER', { transaction_id: 'tx', seq: 0 }, t)).toThrow(
      'data.seq',
    );
    expect(() =>
      fromChargerMessage('CHARGER_METER', { transaction_id: 'tx', seq: 2, register_wh: -1 }, t),
    ).toThrow('data.register_wh');
    expect(() =>
      fromChargerMessage('CHARGER_METER', { transaction_id: 'tx', seq: 2, register_wh: 1.5 }, t),
    ).toThrow('data.register_wh');
    expect(() => fromChargerMessage('CHARGER_START', { transaction_id: 'tx', seq: 1 }, t)).toThrow(
      'data.user_id',
    );
    expect(() => fromChargerMessage('CHARGER_METER', { seq: 2 }, t)).toThrow('data.transaction_id');
  });
});

describe('paying a session through the checkout (decidePay, toPayChargingSession)', () => {
  const s = (
    state: 'ACTIVE' | 'STOPPED' | 'FAULTED',
    paymentState: ChargingPaymentState,
    payAttempt = 0,
  ) => ({
    state,
    paymentState,
    totalMinor: 1_500n,
    payAttempt,
  });

  it('a running session keeps the choice for its stop; a second choice is refused', () => {
    expect(decidePay(s('ACTIVE', 'NONE'))).toEqual({ kind: 'CHOOSE' });
    expect(decidePay(s('ACTIVE', 'CHECKOUT_CHOSEN'))).toMatchObject({ code: 'CHARGING_CHECKOUT_CHOSEN' });
  });

  it('a stopped session pays through a new billing call only once its payment ended unpaid', () => {
    expect(decidePay(s('STOPPED', 'UNPAID', 1))).toEqual({ kind: 'CHECKOUT', attempt: 2 });
    expect(decidePay(s('STOPPED', 'UNPAID', 2))).toEqual({ kind: 'CHECKOUT', attempt: 3 });
    expect(decidePay(s('STOPPED', 'OPEN', 1))).toMatchObject({
      kind: 'REFUSE',
      code: 'CHARGING_PAYMENT_OPEN',
    });
    expect(decidePay(s('STOPPED', 'PAID', 1))).toMatchObject({
      kind: 'REFUSE',
      code: 'CHARGING_SESSION_PAID',
    });
    expect(decidePay(s('STOPPED', 'NONE'))).toMatchObject({
      kind: 'REFUSE',
      code: 'CHARGING_NOTHING_TO_PAY',
    });
    expect(decidePay(s('FAULTED', 'NONE'))).toMatchObject({
      kind: 'REFUSE',
      code: 'CHARGING_SESSION_FAULTED',
    });
  });

  it('validates the request, naming the field', () => {
    const ok = {
      requestId: 'r-1',
      tenancy: { operatorId: 'op-1', projectId: '', merchantId: '' },
      sessionId: '0b8f2f4e-8f3c-4a4e-9a53-2f7c1c1d2e3f',
      points: 300n,
      couponCode: ' EV5 ',
      couponId: '',
      pointsHolderId: '',
    };
    expect(toPayChargingSession(ok)).toEqual({
      requestId: 'r-1',
      operatorId: 'op-1',
      sessionId: ok.sessionId,
      points: 300n,
      couponCode: 'EV5',
      couponId: '',
      pointsHolderId: '',
    });
    const field = (req: Partial<typeof ok>) => {
      try {
        toPayChargingSession({ ...ok, ...req });
      } catch (err) {
        return (err as Error).message.split(':')[0];
      }
      return 'accepted';
    };
    expect(field({ points: -1n })).toBe('points');
    expect(field({ sessionId: 'nope' })).toBe('session_id');
    expect(field({ couponCode: 'x'.repeat(65) })).toBe('coupon_code');
    expect(field({ pointsHolderId: 'a b' })).toBe('points_holder_id');
    expect(field({ couponId: 'c-1' })).toBe('coupon_id');
    expect(field({ couponId: 'c-1', couponCode: '' })).toBe('accepted');
    expect(field({ requestId: '' })).toBe('request_id');
    expect(field({ tenancy: undefined })).toBe('tenancy.operator_id');
  });
});
