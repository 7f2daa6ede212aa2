import { uniqueName } from '@citybase/platform/testing';
import { ChargingServiceService, ChargingSessionState } from '@citybase/contracts/citybase/iot/v1/charging';
import { DeviceKind } from '@citybase/contracts/citybase/iot/v1/iot';
import { ChargerSessionEvent, chargerMessage, SimCharger, SimDevice } from '@citybase/device-sim';
import type { PromiseClient } from '@citybase/platform/testing';
import { IotHarness, startIotHarness, waitFor } from './iot-harness';

const A = 'op-chg-a';
const P = 'proj-chg-1';
const tenancy = { operatorId: A, projectId: P, merchantId: 'm-chg' };

// The charger is a simulated device on the project Mosquitto: its session events go over MQTT
// (docs/iot.md "Device events"; a buffered session, a retried STOP and events out of order:
// device-events.int-spec.ts). Payment is not started in this suite: the bill's CreatePayment call
// stays DUE in billing_calls, which is what is counted (one per session, whatever the charger
// retries).
describe('iot: EV charging sessions from sequence-numbered charger events (in-process service, project Mosquitto)', () => {
  let h: IotHarness;
  let charging: PromiseClient<typeof ChargingServiceService>;
  let deviceId: string;
  let device: SimDevice;

  beforeAll(async () => {
    h = await startIotHarness('charging', {
      PAYMENT_GRPC_URL: '127.0.0.1:1',
      IOT_PAYMENT_JOB_INTERVAL_MS: '60000',
    });
    charging = h.client(ChargingServiceService, () =>
      h.metadata({ operators: [A] }, ['iot:configure', 'iot:read']),
    );
    const r = await h.register(h.clientOf({ operators: [A] }), A, P, DeviceKind.DEVICE_KIND_EV_CHARGER);
    deviceId = r.deviceId;
    device = h.device(r.credentials);
    await device.connect();
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

  const send = async (events: ChargerSessionEvent[]) => {
    for (const e of events) await device.publish('events', chargerMessage(e));
  };
  const sessionOf = async (tx: string) => {
    const { sessions } = await charging.listChargingSessions({ tenancy, deviceId, page: undefined });
    return sessions.find((s) => s.transactionId === tx);
  };
  const ended = (tx: string) =>
    waitFor(`session ${tx} ended`, async () => {
      const s = await sessionOf(tx);
      return s && s.state !== ChargingSessionState.CHARGING_SESSION_STATE_ACTIVE ? s : undefined;
    });
  const billingCalls = async (sessionId: string) =>
    (await h.pg.query(`SELECT amount_minor::text AS a FROM billing_calls WHERE subject_id = $1`, [sessionId]))
      .rows;
  const refused = async (type: string, code: string) => {
    const m = await (await fetch(`${h.svc.httpUrl}/metrics`)).text();
    const line = m
      .split('\n')
      .find((l) => l.startsWith(`iot_device_events_refused_total{type="${type}",code="${code}"`));
    return line ? Number(line.split(' ').pop()) : 0;
  };
  const ev = (
    tx: string,
    seq: number,
    type: ChargerSessionEvent['type'],
    registerWh: bigint,
    userId = '',
  ): ChargerSessionEvent => ({ transactionId: tx, seq, type, registerWh, at: new Date(), userId });

  it('a STOP after the session ended is refused (SESSION_ENDED) and never bills again (citrineos #880)', async () => {
    const sim = new SimCharger(5_000_000n);
    const tx = uniqueName('tx');
    sim.start(tx, 'user-1');
    sim.meter(2_000n);
    sim.stop(0n);
    await sim.flushOver(device);
    const s = await ended(tx);
    expect(s).toMatchObject({ state: ChargingSessionState.CHARGING_SESSION_STATE_STOPPED, energyWh: 2_000n });
    await send([ev(tx, 4, 'STOP', 5_010_000n)]);
    await waitFor('the late STOP refused', async () =>
      (await refused('CHARGER_STOP', 'SESSION_ENDED')) === 1 ? true : undefined,
    );
    expect(await billingCalls(s.sessionId)).toEqual([{ a: '300' }]);
    expect((await sessionOf(tx))!.energyWh).toBe(2_000n);
  });

  it('meterStop < meterStart is refused: the session is FAULTED and never billed (SteVe #1297)', async () => {
    const tx = uniqueName('tx');
    await send([ev(tx, 1, 'START', 6_000_000n, 'u'), ev(tx, 2, 'STOP', 5_999_000n)]);
    const s = await ended(tx);
    expect(s.state).toBe(ChargingSessionState.CHARGING_SESSION_STATE_FAULTED);
    expect(await refused('CHARGER_STOP', 'METER_NOT_MONOTONIC')).toBe(1);
    expect(await billingCalls(s.sessionId)).toEqual([]);
  });

  it('an offline start reporting register 0 never bills the whole register (citrineos #1060)', async () => {
    const { charger } = await charging.getCharger({ tenancy, deviceId });
    const floor = charger!.lastRegisterWh;
    const tx = uniqueName('tx');
    await send([
      ev(tx, 1, 'START', 0n, 'u'),
      ev(tx, 2, 'METER', floor + 500n),
      ev(tx, 3, 'STOP', floor + 1_500n),
    ]);
    const s = await ended(tx);
    expect(s.energyWh).toBe(1_000n);
    expect(await billingCalls(s.sessionId)).toEqual([{ a: '150' }]);
  });

  it('refuses a START without its user, naming the field; no session is made', async () => {
    const tx = uniqueName('tx');
    await send([ev(tx, 1, 'START', 1n, '')]);
    await waitFor('the START refused', async () =>
      (await refused('CHARGER_START', 'INVALID_ARGUMENT')) === 1 ? true : undefined,
    );
    expect(await sessionOf(tx)).toBeUndefined();
    expect(h.svc.output()).toContain('data.user_id: ');
  });
});
