import mqtt, { IClientOptions } from 'mqtt';
import { DeviceKind } from '@citybase/contracts/citybase/iot/v1/iot';
import { testEndpoints, uniqueName } from '@citybase/platform/testing';
import { servicePassword } from '../src/mqtt';
import { IotHarness, startIotHarness, waitFor } from './iot-harness';

const A = 'op-sess-a';
const P = 'proj-sess-1';

/**
 * Mosquitto gives a shared subscription's messages to the sessions of members that are gone too,
 * and drops them when such a session expires (Mosquitto #2662): an iot instance that died or left
 * under a client id nobody uses again took its share of the devices' messages with it. iot keeps
 * its sessions in mqtt_sessions; those of instances gone are taken over, drained and ended.
 */
describe('iot: no broker session is left without an owner (in-process service, project Mosquitto)', () => {
  const admin = testEndpoints.iotMqttAdmin();
  const serviceUser = (h: IotHarness) => `iot-${h.topicRoot}`;
  const options = (h: IotHarness, clientId: string): IClientOptions => ({
    username: serviceUser(h),
    password: servicePassword(admin.password, serviceUser(h)),
    clientId,
    protocolVersion: 5,
    clean: false,
    properties: { sessionExpiryInterval: 3_600 },
    reconnectPeriod: 0,
  });

  /** Whether the broker holds a session for `clientId` (the look ends it: expiry 0). */
  async function sessionPresent(h: IotHarness, clientId: string): Promise<boolean> {
    const c = mqtt.connect(testEndpoints.iotMqttUrl(), options(h, clientId));
    const present = await new Promise<boolean>((resolve, reject) => {
      c.once('connect', (connack) => resolve(connack.sessionPresent));
      c.once('error', reject);
    });
    await c.endAsync(false, { properties: { sessionExpiryInterval: 0 } });
    return present;
  }

  describe('the session of an instance gone', () => {
    let h: IotHarness;
    beforeAll(async () => {
      h = await startIotHarness('sessions', {
        IOT_MQTT_SESSIONS_JOB_INTERVAL_MS: '200',
        IOT_MQTT_SESSION_STALE_S: '1',
      });
    });
    afterAll(() => h?.stop());

    it('is taken over by a running instance: every message the broker gave it is stored, and the session is ended', async () => {
      // a second instance of the share group that was killed: its session outlives it
      const gone = uniqueName('iot-gone');
      const c = await mqtt.connectAsync(testEndpoints.iotMqttUrl(), options(h, gone));
      await c.subscribeAsync(`$share/iot/${h.topicRoot}/+/devices/+/telemetry`, { qos: 1 });
      await c.endAsync(true);

      const { deviceId, credentials } = await h.register(
        h.clientOf({ operators: [A] }),
        A,
        P,
        DeviceKind.DEVICE_KIND_METER,
      );
      const meter = h.device(credentials);
      await meter.connect();
      const N = 60;
      for (let i = 0; i < N; i++) await meter.telemetry({ energy_kwh: i });
      // what the broker acknowledged to the meter: the running instance stores its share only
      await waitFor('the running instance stored its share', async () =>
        (await h.storedTelemetry(deviceId)) > 0 ? true : undefined,
      );
      await new Promise((r) => setTimeout(r, 1_500));
      const before = await h.storedTelemetry(deviceId);
      expect(before).toBeLessThan(N);

      // the gone instance's heartbeat, long stopped
      await h.pool.query(
        `INSERT INTO mqtt_sessions (client_id, connection, heartbeat_at) VALUES ($1, 'main', now() - interval '1 hour')`,
        [gone],
      );
      await waitFor(
        `all ${N} stored (${before} before the take-over)`,
        async () => ((await h.storedTelemetry(deviceId)) === N ? true : undefined),
        20_000,
      );
      await waitFor('its row removed', async () =>
        (await h.pool.query('SELECT 1 FROM mqtt_sessions WHERE client_id = $1', [gone])).rowCount === 0
          ? true
          : undefined,
      );
      expect(await sessionPresent(h, gone)).toBe(false);
      // the instance's own sessions are beating, not taken over
      const own = await h.pool.query<{ client_id: string; state: string }>(
        'SELECT client_id, state FROM mqtt_sessions ORDER BY client_id',
      );
      expect(own.rows.map((r) => [r.client_id, r.state])).toEqual([
        [`iot-${h.topicRoot}`, 'running'],
        [`iot-${h.topicRoot}-urgent`, 'running'],
      ]);
    });
  });

  it('an instance that stops while another runs hands its sessions back; one that stops alone (or with the others stopping too) keeps them, marked left', async () => {
    const withOther = await startIotHarness('handback');
    const alone = await startIotHarness('keepalone');
    try {
      const ownIds = [`iot-${withOther.topicRoot}`, `iot-${withOther.topicRoot}-urgent`];
      await withOther.pool.query(
        `INSERT INTO mqtt_sessions (client_id, connection) VALUES ('iot-another-instance', 'main')`,
      );
      await withOther.svc.stop(); // the service only: its database stays for the look
      const after = await withOther.pool.query<{ client_id: string }>(
        'SELECT client_id FROM mqtt_sessions ORDER BY 1',
      );
      expect(after.rows.map((r) => r.client_id)).toEqual(['iot-another-instance']);
      for (const id of ownIds) expect([id, await sessionPresent(withOther, id)]).toEqual([id, false]);

      const aloneIds = [`iot-${alone.topicRoot}`, `iot-${alone.topicRoot}-urgent`];
      // a peer stopping at the same time (it looked first and handed back, or will keep its own)
      await alone.pool.query(
        `INSERT INTO mqtt_sessions (client_id, connection, state) VALUES ('iot-peer-stopping', 'main', 'stopping')`,
      );
      await alone.svc.stop();
      const left = await alone.pool.query<{ client_id: string; state: string }>(
        `SELECT client_id, state FROM mqtt_sessions WHERE client_id <> 'iot-peer-stopping' ORDER BY 1`,
      );
      expect(left.rows).toEqual(aloneIds.map((client_id) => ({ client_id, state: 'left' })));
      for (const id of aloneIds) expect([id, await sessionPresent(alone, id)]).toEqual([id, true]);
    } finally {
      await withOther.stop();
      await alone.stop();
    }
  });
});
