import { uniqueName } from '@citybase/platform/testing';
import type { PromiseClient } from '@citybase/platform/testing';
import { CommandServiceService, CommandState } from '@citybase/contracts/citybase/iot/v1/commands';
import { DeviceKind } from '@citybase/contracts/citybase/iot/v1/iot';
import { ParkingServiceService, ParkingSessionState } from '@citybase/contracts/citybase/iot/v1/parking';
import { ChargingServiceService, ChargingSessionState } from '@citybase/contracts/citybase/iot/v1/charging';
import { Actuator, chargerMessage, PlateCamera, SimCharger, SimDevice } from '@citybase/device-sim';
import { IotHarness, startIotHarness, waitFor } from './iot-harness';

const A = 'op-devev-a';
const P = 'proj-devev-1';
const tenancy = { operatorId: A, projectId: P, merchantId: 'm-devev' };

// Plate cameras and chargers drive parking and charging with their own MQTT messages (docs/iot.md
// "Device events"): real simulated devices on the project Mosquitto, iot in-process. A device's
// publish resolves when the broker has the message, not when iot applied it: each step waits for
// its effect. The ingest's
// in-memory duplicate window is off (IOT_INGEST_DEDUP_WINDOW=0), so a copy of a message reaches the
// rooms and what is shown is their own idempotency by (device, message id). Payment is not started:
// a fee's CreatePayment call stays DUE in billing_calls, which is what is counted.
describe('iot: plate reads and charger sessions from the devices over MQTT (in-process, project Mosquitto)', () => {
  let h: IotHarness;
  let parking: PromiseClient<typeof ParkingServiceService>;
  let charging: PromiseClient<typeof ChargingServiceService>;
  let commands: PromiseClient<typeof CommandServiceService>;
  let lotId: string;
  let entry: PlateCamera;
  let exit: PlateCamera;
  let exitCamId: string;
  let gate: Actuator;
  let chargerId: string;
  let charger: SimDevice;

  beforeAll(async () => {
    h = await startIotHarness('devevents', {
      PAYMENT_GRPC_URL: '127.0.0.1:1',
      IOT_PAYMENT_JOB_INTERVAL_MS: '60000',
      IOT_INGEST_DEDUP_WINDOW: '0',
    });
    const registry = h.clientOf({ operators: [A] });
    const scopes = ['iot:configure', 'iot:read'];
    parking = h.client(ParkingServiceService, () => h.metadata({ operators: [A] }, scopes));
    charging = h.client(ChargingServiceService, () => h.metadata({ operators: [A] }, scopes));
    commands = h.client(CommandServiceService, () => h.metadata({ operators: [A] }, ['iot:read']));
    const device = async (kind: DeviceKind) => {
      const r = await h.register(registry, A, P, kind);
      const d = h.device(r.credentials);
      await d.connect();
      return { id: r.deviceId, d };
    };
    const inCam = await device(DeviceKind.DEVICE_KIND_PARKING_CAMERA);
    const outCam = await device(DeviceKind.DEVICE_KIND_PARKING_CAMERA);
    const g = await device(DeviceKind.DEVICE_KIND_PARKING_GATE);
    entry = new PlateCamera(inCam.d);
    exit = new PlateCamera(outCam.d);
    exitCamId = outCam.id;
    gate = new Actuator(g.d);
    const { lot } = await parking.createLot({
      requestId: uniqueName('lot'),
      tenancy,
      name: 'Camera lot',
      capacity: 10,
      entryCameraId: inCam.id,
      exitCameraId: outCam.id,
      exitGateId: g.id,
      tariff: {
        freeMinutes: 15,
        hourlyRate: { currency: 'CNY', amountMinor: 500n },
        dailyCap: { currency: 'CNY', amountMinor: 3_000n },
      },
    });
    lotId = lot!.lotId;
    const c = await device(DeviceKind.DEVICE_KIND_EV_CHARGER);
    chargerId = c.id;
    charger = c.d;
    await charging.configureCharger({
      requestId: uniqueName('cfg'),
      tenancy,
      deviceId: chargerId,
      tariff: {
        bands: [{ fromMinute: 0, pricePerKwh: { currency: 'CNY', amountMinor: 100n } }],
        serviceFeePerKwh: { currency: 'CNY', amountMinor: 50n },
      },
    });
  });

  afterAll(async () => {
    await h?.stop();
  });

  const sessionsOf = async (plate: string) =>
    (await parking.listParkingSessions({ tenancy, lotId, page: undefined })).sessions.filter(
      (s) => s.plate === plate,
    );
  const occupied = async () => (await parking.getLot({ tenancy, lotId })).lot!.occupied;
  const minutesAgo = (m: number) => new Date(Date.now() - m * 60_000);
  /** The plate's stays once `ready` holds for them. */
  const stays = (
    plate: string,
    what: string,
    ready: (s: Awaited<ReturnType<typeof sessionsOf>>) => boolean,
  ) =>
    waitFor(what, async () => {
      const s = await sessionsOf(plate);
      return ready(s) ? s : undefined;
    });
  const refusedCount = async (code: string) => {
    const m = await (await fetch(`${h.svc.httpUrl}/metrics`)).text();
    const line = m
      .split('\n')
      .find((l) => l.startsWith(`iot_device_events_refused_total{type="PLATE_READ",code="${code}"`));
    return line ? Number(line.split(' ').pop()) : 0;
  };

  it('the entry camera opens a stay and the exit camera ends it; the gate opens; a copied read changes nothing', async () => {
    const before = await occupied();
    const at = minutesAgo(10);
    const read = await entry.read('粤C10001', { at });
    const [open] = await stays('粤C10001', 'the entry read applied', (s) => s.length === 1);
    expect(open).toMatchObject({ state: ParkingSessionState.PARKING_SESSION_STATE_OPEN });
    expect(await occupied()).toBe(before + 1);
    // the broker sends the same message again (same device, same message id): one stay, one vehicle
    await entry.read('粤C10001', { id: read, at });
    // then the exit: when it is applied, the copy before it (same camera, in order) was too
    await exit.read('粤C10001');
    const [closed] = await stays(
      '粤C10001',
      'the exit read applied',
      (s) => s[0]?.state === ParkingSessionState.PARKING_SESSION_STATE_CLOSED,
    );
    expect(await sessionsOf('粤C10001')).toHaveLength(1);
    expect(closed!.fee).toEqual({ currency: 'CNY', amountMinor: 0n });
    expect(await occupied()).toBe(before);
    await waitFor('the gate opened', async () => {
      const { command } = await commands.getCommand({ tenancy, commandId: closed!.gateCommandId });
      return command!.state === CommandState.COMMAND_STATE_SUCCEEDED ? true : undefined;
    });
    expect(gate.executions.map((e) => e.commandId)).toEqual([closed!.gateCommandId]);
    expect(await refusedCount('REQUEST_ID_REUSED')).toBe(0);
  });

  it('an exit read with a fee asks one payment, also when the camera message comes twice; the gate stays closed', async () => {
    await entry.read('粤C20002', { at: minutesAgo(90) });
    await stays('粤C20002', 'the entry read applied', (s) => s.length === 1);
    const at = new Date();
    const id = await exit.read('粤C20002', { at });
    await exit.read('粤C20002', { id, at });
    const [s] = await stays(
      '粤C20002',
      'the exit read applied',
      (x) => x[0]?.state === ParkingSessionState.PARKING_SESSION_STATE_AWAITING_PAYMENT,
    );
    expect(s).toMatchObject({ fee: { currency: 'CNY', amountMinor: 1_000n }, gateCommandId: '' });
    // the copy is answered with what the first read did (the use case's replay), nothing new
    await waitFor('the copy replayed', async () =>
      h.svc
        .output()
        .split('\n')
        .some((l) => l.includes(`"request_id":"mqtt:${exitCamId}:${id}"`) && l.includes('"replayed":true'))
        ? true
        : undefined,
    );
    expect(await refusedCount('REQUEST_ID_REUSED')).toBe(0);
    const calls = await h.pg.query(
      `SELECT amount_minor::text AS a FROM billing_calls WHERE subject_id = $1`,
      [s!.sessionId],
    );
    expect(calls.rows).toEqual([{ a: '1000' }]);
  });

  it('a read the rules refuse (bad plate, no vehicle inside) is acknowledged and changes nothing', async () => {
    const before = await occupied();
    await entry.read('??');
    await exit.read('粤C99999');
    await waitFor('both refused', async () =>
      (await refusedCount('INVALID_ARGUMENT')) === 1 && (await refusedCount('PARKING_NO_SESSION')) === 1
        ? true
        : undefined,
    );
    expect(await sessionsOf('粤C99999')).toEqual([]);
    expect(await occupied()).toBe(before);
  });

  const chargingSession = async (tx: string) =>
    (await charging.listChargingSessions({ tenancy, deviceId: chargerId, page: undefined })).sessions.find(
      (s) => s.transactionId === tx,
    );
  const billingCalls = async (sessionId: string) =>
    (await h.pg.query(`SELECT amount_minor::text AS a FROM billing_calls WHERE subject_id = $1`, [sessionId]))
      .rows;

  const stopped = (tx: string) =>
    waitFor(`session ${tx} stopped`, async () => {
      const x = await chargingSession(tx);
      return x?.state === ChargingSessionState.CHARGING_SESSION_STATE_STOPPED ? x : undefined;
    });

  it('a charger session buffered offline arrives over MQTT and is billed once, with its STOP sent again', async () => {
    const sim = new SimCharger(1_000_000n);
    const tx = uniqueName('tx');
    sim.start(tx, 'user-1');
    sim.meter(4_000n);
    sim.meter(6_000n);
    const stop = sim.stop(0n);
    await sim.flushOver(charger);
    expect(sim.buffer).toEqual([]);
    const s = await stopped(tx);
    expect(s.energyWh).toBe(10_000n);
    // 10 kWh x (1.00 + 0.50)
    expect(s.total).toEqual({ currency: 'CNY', amountMinor: 1_500n });
    // the charger did not see the PUBACK of its STOP and sends it again; then a next session's
    // START, applied after the copy (one charger's messages in order): the copy was seen by then
    await charger.publish('events', chargerMessage(stop));
    const next = uniqueName('tx');
    await charger.publish('events', chargerMessage(new SimCharger(1_010_000n).start(next, 'user-1')));
    await waitFor('the next session started', async () => ((await chargingSession(next)) ? true : undefined));
    expect(await billingCalls(s.sessionId)).toEqual([{ a: '1500' }]);
    expect((await chargingSession(tx))!.state).toBe(ChargingSessionState.CHARGING_SESSION_STATE_STOPPED);
  });

  it('events that overtake an earlier one wait for it and are applied in sequence', async () => {
    const sim = new SimCharger(2_000_000n);
    const tx = uniqueName('tx');
    const events = [sim.start(tx, 'user-2'), sim.meter(1_000n), sim.stop(1_000n)];
    // e.g. two iot instances of the shared subscription: the STOP and METER come before the START
    await charger.publish('events', chargerMessage(events[2]!));
    await charger.publish('events', chargerMessage(events[1]!));
    await waitFor('both wait in the backlog', async () => {
      const { rows } = await h.pg.query<{ seq: number }>(
        `SELECT seq FROM charger_event_backlog WHERE device_id = $1 AND transaction_id = $2 ORDER BY seq`,
        [chargerId, tx],
      );
      return rows.map((r) => r.seq).join() === '2,3' ? true : undefined;
    });
    expect(await chargingSession(tx)).toBeUndefined();
    await charger.publish('events', chargerMessage(events[0]!));
    const s = await stopped(tx);
    expect(s.energyWh).toBe(2_000n);
    expect(await billingCalls(s.sessionId)).toEqual([{ a: '300' }]);
    const left = await h.pg.query(`SELECT 1 FROM charger_event_backlog WHERE device_id = $1`, [chargerId]);
    expect(left.rowCount).toBe(0);
  });
});
