import { uniqueName } from '@citybase/platform/testing';
import {
  ChargerEventOutcome,
  ChargerEventType,
  ChargingServiceService,
  ChargingSessionState,
} from '@citybase/contracts/citybase/iot/v1/charging';
import { DeviceKind } from '@citybase/contracts/citybase/iot/v1/iot';
import { ChargerSessionEvent, SimCharger } from '@citybase/device-sim';
import type { PromiseClient } from '@citybase/platform/testing';
import { toTimestamp } from '@citybase/platform';
import { errorField, grpcError, IotHarness, startIotHarness, status } from './iot-harness';

const A = 'op-chg-a';
const P = 'proj-chg-1';
const tenancy = { operatorId: A, projectId: P, merchantId: 'm-chg' };

// Payment is not started in this suite: the bill's CreatePayment call stays DUE in billing_calls,
// which is what is counted (one per session, whatever the charger retries).
describe('iot: EV charging sessions from sequence-numbered charger events (in-process service)', () => {
  let h: IotHarness;
  let charging: PromiseClient<typeof ChargingServiceService>;
  let deviceId: string;

  beforeAll(async () => {
    h = await startIotHarness('charging', {
      PAYMENT_GRPC_URL: '127.0.0.1:1',
      IOT_PAYMENT_JOB_INTERVAL_MS: '60000',
    });
    charging = h.client(ChargingServiceService, () =>
      h.metadata({ operators: [A] }, ['iot:configure', 'iot:device', 'iot:read']),
    );
    deviceId = (await h.register(h.clientOf({ operators: [A] }), A, P, DeviceKind.DEVICE_KIND_EV_CHARGER))
      .deviceId;
    await charging.configureCharger({
      requestId: uniqueName('cfg'),
      tenancy,
      deviceId,
      tariff: {
        bands: [{ fromMinute: 0, pricePerKwh: { currency: 'CNY', amountMinor: 100n } }],
        serviceFeePerKwh: { currency: 'CNY', amountMinor: 50n },
      },
    });
  });

  afterAll(async () => {
    await h?.stop();
  });

  const TYPE = {
    START: ChargerEventType.CHARGER_EVENT_TYPE_START,
    METER: ChargerEventType.CHARGER_EVENT_TYPE_METER,
    STOP: ChargerEventType.CHARGER_EVENT_TYPE_STOP,
  };
  const send = async (events: ChargerSessionEvent[]) => {
    const { answers } = await charging.reportChargerEvents({
      tenancy,
      deviceId,
      events: events.map((e) => ({
        transactionId: e.transactionId,
        seq: e.seq,
        type: TYPE[e.type],
        registerWh: e.registerWh,
        at: toTimestamp(e.at),
        userId: e.userId,
      })),
    });
    return answers;
  };
  const flushAnswers = (answers: Awaited<ReturnType<typeof send>>) =>
    answers.map((a) => ({
      seq: a.seq,
      transactionId: a.transactionId,
      acknowledged: a.outcome !== ChargerEventOutcome.CHARGER_EVENT_OUTCOME_GAP,
    }));
  const sessionOf = async (tx: string) => {
    const { sessions } = await charging.listChargingSessions({ tenancy, deviceId, page: undefined });
    return sessions.find((s) => s.transactionId === tx)!;
  };
  const billingCalls = async (sessionId: string) =>
    (await h.pg.query(`SELECT amount_minor::text AS a FROM billing_calls WHERE subject_id = $1`, [sessionId]))
      .rows;

  it('buffered offline and sent later in order, with the stop retried: billed once on last - first register', async () => {
    const charger = new SimCharger(1_000_000n);
    const tx = uniqueName('tx');
    charger.start(tx, 'user-1');
    charger.meter(4_000n);
    charger.meter(6_000n);
    charger.stop(0n);
    // the charger was offline: all four go at once, then the STOP is retried twice
    await charger.flush(async (events) => flushAnswers(await send(events)));
    expect(charger.buffer).toEqual([]);
    const retried = await send([
      { transactionId: tx, seq: 4, type: 'STOP', registerWh: 1_010_000n, at: new Date(), userId: '' },
    ]);
    expect(retried[0]!.outcome).toBe(ChargerEventOutcome.CHARGER_EVENT_OUTCOME_DUPLICATE);
    const late = await send([
      { transactionId: tx, seq: 5, type: 'STOP', registerWh: 1_020_000n, at: new Date(), userId: '' },
    ]);
    expect(late[0]!.outcome).toBe(ChargerEventOutcome.CHARGER_EVENT_OUTCOME_REFUSED);
    const s = await sessionOf(tx);
    expect(s).toMatchObject({
      state: ChargingSessionState.CHARGING_SESSION_STATE_STOPPED,
      energyWh: 10_000n,
    });
    // 10 kWh x (1.00 + 0.50)
    expect(s.total).toEqual({ currency: 'CNY', amountMinor: 1_500n });
    expect(await billingCalls(s.sessionId)).toEqual([{ a: '1500' }]);
  });

  it('a gap waits: events after a missing one are not applied until it comes', async () => {
    const tx = uniqueName('tx');
    const start = {
      transactionId: tx,
      seq: 1,
      type: 'START' as const,
      registerWh: 2_000_000n,
      at: new Date(),
      userId: 'u',
    };
    const m2 = {
      transactionId: tx,
      seq: 2,
      type: 'METER' as const,
      registerWh: 2_001_000n,
      at: new Date(),
      userId: '',
    };
    const m3 = {
      transactionId: tx,
      seq: 3,
      type: 'STOP' as const,
      registerWh: 2_002_000n,
      at: new Date(),
      userId: '',
    };
    const first = await send([start, m3]);
    expect(first.map((a) => a.outcome)).toEqual([
      ChargerEventOutcome.CHARGER_EVENT_OUTCOME_APPLIED,
      ChargerEventOutcome.CHARGER_EVENT_OUTCOME_GAP,
    ]);
    expect((await sessionOf(tx)).state).toBe(ChargingSessionState.CHARGING_SESSION_STATE_ACTIVE);
    await send([m2, m3]);
    expect(await sessionOf(tx)).toMatchObject({
      state: ChargingSessionState.CHARGING_SESSION_STATE_STOPPED,
      energyWh: 2_000n,
    });
  });

  it('meterStop < meterStart is refused: the session is FAULTED and never billed (SteVe #1297)', async () => {
    const tx = uniqueName('tx');
    const answers = await send([
      { transactionId: tx, seq: 1, type: 'START', registerWh: 3_000_000n, at: new Date(), userId: 'u' },
      { transactionId: tx, seq: 2, type: 'STOP', registerWh: 2_999_000n, at: new Date(), userId: '' },
    ]);
    expect(answers[1]).toMatchObject({ outcome: ChargerEventOutcome.CHARGER_EVENT_OUTCOME_REFUSED });
    expect(answers[1]!.detail).toMatch(/METER_NOT_MONOTONIC/);
    const s = await sessionOf(tx);
    expect(s.state).toBe(ChargingSessionState.CHARGING_SESSION_STATE_FAULTED);
    expect(await billingCalls(s.sessionId)).toEqual([]);
  });

  it('an offline start reporting register 0 never bills the whole register (citrineos #1060)', async () => {
    const { charger } = await charging.getCharger({ tenancy, deviceId });
    const floor = charger!.lastRegisterWh;
    const tx = uniqueName('tx');
    await send([
      { transactionId: tx, seq: 1, type: 'START', registerWh: 0n, at: new Date(), userId: 'u' },
      { transactionId: tx, seq: 2, type: 'METER', registerWh: floor + 500n, at: new Date(), userId: '' },
      { transactionId: tx, seq: 3, type: 'STOP', registerWh: floor + 1_500n, at: new Date(), userId: '' },
    ]);
    const s = await sessionOf(tx);
    expect(s.energyWh).toBe(1_000n);
    expect(await billingCalls(s.sessionId)).toEqual([{ a: '150' }]);
  });

  it('refuses a START without its user, naming the field', async () => {
    const err = await grpcError(
      send([
        {
          transactionId: uniqueName('tx'),
          seq: 1,
          type: 'START',
          registerWh: 1n,
          at: new Date(),
          userId: '',
        },
      ]),
    );
    expect([err.code, errorField(err)]).toEqual([status.INVALID_ARGUMENT, 'events[0].user_id']);
  });
});
