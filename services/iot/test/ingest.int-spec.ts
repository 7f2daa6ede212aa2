import { DeviceKind } from '@citybase/contracts/citybase/iot/v1/iot';
import { IotClient, IotHarness, startIotHarness, waitFor } from './iot-harness';

const A = 'op-ing-a';
const P = 'proj-ing-1';

describe('iot: ingest, history, latest state and presence (in-process service, project Mosquitto, Kafka)', () => {
  let h: IotHarness;
  let opA: IotClient;

  beforeAll(async () => {
    h = await startIotHarness('ingest');
    opA = h.clientOf({ operators: [A] });
  });

  afterAll(async () => {
    await h?.stop();
  });

  it('stores every published message once: published = stored, duplicates of a message id dropped', async () => {
    const devices = await Promise.all(
      [0, 1, 2].map(() => h.register(opA, A, P, DeviceKind.DEVICE_KIND_METER)),
    );
    const sims = devices.map((d) => h.device(d.credentials));
    await Promise.all(sims.map((s) => s.connect()));
    const PER = 200;
    await Promise.all(
      sims.map(async (s) => {
        for (let i = 0; i < PER; i++) await s.telemetry({ energy_kwh: 1000 + i, power_w: 100 + i });
      }),
    );
    // the same message id again (a device retrying after a lost PUBACK): one row
    const again = sims[0]!;
    const id = await again.telemetry({ energy_kwh: 5000 }, { ts: new Date('2026-12-06T00:00:01Z') });
    await again.telemetry({ energy_kwh: 5000 }, { id, ts: new Date('2026-12-06T00:00:01Z') });
    const expected = [PER + 1, PER, PER];
    for (const [i, d] of devices.entries())
      await waitFor(
        `device ${i} has ${expected[i]} rows`,
        async () => ((await h.storedTelemetry(d.deviceId)) === expected[i] ? true : undefined),
        20_000,
      ).catch(async (e) => {
        throw new Error(`${String(e)}: ${await h.storedTelemetry(d.deviceId)}`);
      });
    // and no more come
    await new Promise((r) => setTimeout(r, 500));
    for (const [i, d] of devices.entries()) expect(await h.storedTelemetry(d.deviceId)).toBe(expected[i]);
    const state = await opA.getDeviceState({ deviceId: devices[1]!.deviceId });
    expect(state.metrics.find((m) => m.metric === 'energy_kwh')?.value).toBe(1000 + PER - 1);
  });

  it('history lives in daily partitions of telemetry_history', async () => {
    const { rows } = await h.pool.query<{ name: string }>(
      `SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
        JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = 'telemetry_history'`,
    );
    const today = new Date().toISOString().slice(0, 10).replace(/-/g, '');
    expect(rows.map((r) => r.name)).toContain(`telemetry_history_${today}`);
  });

  it('presence: online on connect, offline from the last will when the device drops, online again on reconnect', async () => {
    const { deviceId, credentials } = await h.register(opA, A, P, DeviceKind.DEVICE_KIND_TEMPERATURE_SENSOR);
    const d = h.device(credentials, { keepaliveS: 5 });
    await d.connect();
    const online = async (want: boolean) =>
      waitFor(
        `device online = ${want}`,
        async () => {
          const dev = (await opA.getDevice({ deviceId })).device!;
          return dev.online === want ? dev : undefined;
        },
        60_000,
      );
    await online(true);
    await d.crash();
    await online(false);
    const d2 = h.device(credentials);
    await d2.connect();
    const back = await online(true);
    expect(back.lastSeenAt).toBeDefined();
    const { rows } = await h.pool.query<{ version: bigint; reason: string }>(
      'SELECT version, reason FROM device_presence WHERE device_id = $1',
      [deviceId],
    );
    expect(rows[0]).toEqual({ version: 3n, reason: 'connected' });
  });

  it('a late last will of an earlier connection does not take a connected device offline', async () => {
    const { deviceId, credentials } = await h.register(opA, A, P, DeviceKind.DEVICE_KIND_TEMPERATURE_SENSOR);
    const d = h.device(credentials);
    await d.connect();
    await waitFor(
      'online',
      async () => ((await opA.getDevice({ deviceId })).device!.online ? true : undefined),
      60_000,
    );
    // the will of an older session, and a repeated announcement of the current one, arrive late
    await d.publish('state', { id: 'old-will', online: false, session: d.session - 5, reason: 'last_will' });
    await d.announce(true);
    await d.telemetry({ temperature_c: 20 });
    await waitFor(
      'the telemetry stored',
      async () => ((await h.storedTelemetry(deviceId)) >= 1 ? true : undefined),
      60_000,
    );
    expect((await opA.getDevice({ deviceId })).device!.online).toBe(true);
  });
});
