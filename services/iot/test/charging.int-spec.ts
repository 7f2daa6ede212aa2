import { uniqueName } from '@citybase/platform/testing';
import {
  ChargingPaymentState,
  ChargingServiceService,
  ChargingSessionState,
} from '@citybase/contracts/citybase/iot/v1/charging';
import { DeviceKind } from '@citybase/contracts/citybase/iot/v1/iot';
import { ChargerSessionEvent, chargerMessage, SimCharger, SimDevice } from '@citybase/device-sim';
import type { PromiseClient } from '@citybase/platform/testing';
import {
  errorCode,
  errorField,
  grpcError,
  IotHarness,
  startIotHarness,
  status,
  waitFor,
} from './iot-harness';

const A = 'op-chg-a';
const P = 'proj-chg-1';
const tenancy = { operatorId: A, projectId: P, merchantId: 'm-chg' };

// The charger is a simulated device on the project Mosquitto: its session events go over MQTT
// (docs/iot.md "Device events"; a buffered session, a retried STOP and events out of order:
// device-events.int-spec.ts). Payment is not started in this suite: the bill's CreatePayment call
// stays DUE in billing_calls, which is what is counted (one per session, whatever the charger
// retries). Paying through payment's checkout with real processes: tools/e2e checkout-flow.
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
      h.metadata({ operators: [A] }, ['iot:configure', 'iot:read', 'iot:charging.pay']),
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
  const callsOf = async (sessionId: string) =>
    (
      await h.pg.query(
        `SELECT call_id, kind, amount_minor::text AS amount, points::text AS points, coupon_code, user_id
           FROM billing_calls WHERE subject_id = $1 ORDER BY call_id`,
        [sessionId],
      )
    ).rows;
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

  describe('paid with points and a coupon (PayChargingSession)', () => {
    const pay = (sessionId: string, requestId = uniqueName('pay'), points = 300n, couponCode = 'EV5') =>
      charging.payChargingSession({
        requestId,
        tenancy: { operatorId: A, projectId: '', merchantId: '' },
        sessionId,
        points,
        couponCode,
        pointsHolderId: '',
        couponId: '',
      });

    it('chosen while the session runs, the stop bills through one checkout whatever the stop and pay retries', async () => {
      const tx = uniqueName('tx');
      await send([ev(tx, 1, 'START', 7_000_000n, 'user-pay'), ev(tx, 2, 'METER', 7_001_000n)]);
      const running = await waitFor('the session running', async () =>
        (await sessionOf(tx))?.lastSeq === 2 ? await sessionOf(tx) : undefined,
      );
      const requestId = uniqueName('pay');
      const first = await pay(running.sessionId, requestId);
      expect(first.session).toMatchObject({
        paymentState: ChargingPaymentState.CHARGING_PAYMENT_STATE_CHECKOUT_CHOSEN,
        checkoutId: '',
      });
      expect(first.payUrl).toBe('');
      // the same request again answers the same; another one is refused: the choice is made
      expect((await pay(running.sessionId, requestId)).session!.paymentState).toBe(
        ChargingPaymentState.CHARGING_PAYMENT_STATE_CHECKOUT_CHOSEN,
      );
      const again = await grpcError(pay(running.sessionId, uniqueName('pay'), 0n, ''));
      expect([again.code, errorCode(again)]).toEqual([
        status.FAILED_PRECONDITION,
        'CHARGING_CHECKOUT_CHOSEN',
      ]);

      await send([ev(tx, 3, 'STOP', 7_002_000n), ev(tx, 3, 'STOP', 7_002_000n)]);
      const s = await ended(tx);
      expect(s).toMatchObject({
        energyWh: 2_000n,
        paymentState: ChargingPaymentState.CHARGING_PAYMENT_STATE_OPEN,
      });
      // payment is away in this suite: the call waits, DUE, and is the session's only one
      expect(await callsOf(s.sessionId)).toEqual([
        {
          call_id: `iot:charging:${s.sessionId}:1`,
          kind: 'CHECKOUT',
          amount: '300',
          points: '300',
          coupon_code: 'EV5',
          user_id: 'user-pay',
        },
      ]);
      // a retried pay of the stopped session neither: its checkout is open
      const open = await grpcError(pay(s.sessionId));
      expect([open.code, errorCode(open)]).toEqual([status.FAILED_PRECONDITION, 'CHARGING_PAYMENT_OPEN']);
      expect((await pay(running.sessionId, requestId)).session!.paymentState).toBe(
        ChargingPaymentState.CHARGING_PAYMENT_STATE_OPEN,
      );
      expect(await callsOf(s.sessionId)).toHaveLength(1);
    });

    it('a stopped session whose plain payment may be paid is refused (FAILED_PRECONDITION); nothing else is asked', async () => {
      const tx = uniqueName('tx');
      await send([ev(tx, 1, 'START', 8_000_000n, 'user-plain'), ev(tx, 2, 'STOP', 8_001_000n)]);
      const s = await ended(tx);
      expect(s.paymentState).toBe(ChargingPaymentState.CHARGING_PAYMENT_STATE_OPEN);
      const err = await grpcError(pay(s.sessionId));
      expect([err.code, errorCode(err)]).toEqual([status.FAILED_PRECONDITION, 'CHARGING_PAYMENT_OPEN']);
      expect(await callsOf(s.sessionId)).toEqual([
        expect.objectContaining({ call_id: `iot:charging:${s.sessionId}:1`, kind: 'PAYMENT', points: '0' }),
      ]);
    });

    it("bad input is INVALID_ARGUMENT naming the field; another operator's session is NOT_FOUND", async () => {
      const tx = uniqueName('tx');
      await send([ev(tx, 1, 'START', 9_000_000n, 'user-x')]);
      const s = await waitFor('the session', () => sessionOf(tx));
      const bad = await grpcError(pay(s.sessionId, uniqueName('pay'), -5n));
      expect([bad.code, errorField(bad)]).toEqual([status.INVALID_ARGUMENT, 'points']);
      const other = h.client(ChargingServiceService, () =>
        h.metadata({ operators: ['op-chg-b'] }, ['iot:read', 'iot:charging.pay']),
      );
      const foreign = await grpcError(
        other.payChargingSession({
          requestId: uniqueName('pay'),
          tenancy: { operatorId: A, projectId: '', merchantId: '' },
          sessionId: s.sessionId,
          points: 1n,
          couponCode: '',
          pointsHolderId: '',
          couponId: '',
        }),
      );
      expect(foreign.code).toBe(status.NOT_FOUND);
      expect((await sessionOf(tx))!.paymentState).toBe(ChargingPaymentState.CHARGING_PAYMENT_STATE_NONE);
    });
  });
});
