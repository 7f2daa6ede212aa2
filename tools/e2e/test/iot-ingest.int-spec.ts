import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { DeviceKind, IotServiceService } from '@citybase/contracts/citybase/iot/v1/iot';
import {
  createTestDatabase,
  freePort,
  grpcClient,
  iotMqttEnv,
  kafkaTestPrefix,
  REPO_ROOT,
  ServiceProcess,
  TestDatabase,
  TestIssuer,
  uniqueName,
  waitFor,
} from '@citybase/platform/testing';
import { DeviceCredentials, SimDevice } from '@citybase/device-sim';
import { spawnReadyService } from '../src';

/**
 * Ingest without loss at the process level (issue 15, ThingsBoard #6492): devices publish telemetry
 * at QoS 1 while iot is SIGKILLed and restarted, and while the project's broker is restarted.
 * Every message a device got a PUBACK for is stored exactly once: published = stored.
 * The broker is one of this suite's own (deploy/local/mosquitto.sh on a free port and a temporary
 * data dir), so restarting it disturbs no other suite.
 */
describe('iot: published = stored across a SIGKILL of iot and a broker restart (processes)', () => {
  const operatorId = 'op-iot-kill';
  const projectId = 'proj-iot-kill';
  const DEVICES = 4;
  let brokerPort: number;
  let brokerDir: string;
  let issuer: TestIssuer;
  let db: TestDatabase;
  let iot: ServiceProcess | undefined;
  const prefix = kafkaTestPrefix('iotkill');
  const topicRoot = `tk${Date.now().toString(36)}`;
  const devices: SimDevice[] = [];

  const broker = (cmd: 'start' | 'stop' | 'restart') =>
    execFileSync('bash', [join(REPO_ROOT, 'deploy/local/mosquitto.sh'), cmd], {
      env: { ...process.env, IOT_MQTT_PORT: String(brokerPort), IOT_MQTT_DIR: brokerDir },
      stdio: 'pipe',
    });
  const startIot = () =>
    spawnReadyService('iot', {
      db,
      kafkaPrefix: prefix,
      issuer,
      env: {
        IOT_MQTT_URL: `mqtt://127.0.0.1:${brokerPort}`,
        IOT_MQTT_ADMIN_PASSWORD: readFileSync(join(brokerDir, 'admin-password'), 'utf8').trim(),
        // the same client id after the restart: the broker kept its session and unacked messages
        ...iotMqttEnv('ingest', topicRoot),
        KAFKA_SESSION_TIMEOUT_MS: '6000',
      },
    });

  beforeAll(async () => {
    brokerPort = await freePort();
    brokerDir = mkdtempSync(join(tmpdir(), 'citybase-mqtt-'));
    broker('start');
    issuer = await TestIssuer.start();
    db = await createTestDatabase('e2e_iotkill');
    iot = await startIot();
  }, 180_000);

  afterAll(async () => {
    await Promise.all(devices.map((d) => d.crash().catch(() => undefined)));
    await iot?.stop('SIGKILL').catch(() => undefined);
    try {
      broker('stop');
    } catch {
      // already down
    }
    rmSync(brokerDir, { recursive: true, force: true });
    await db?.drop();
    await issuer?.stop();
  });

  it('every acknowledged message is stored exactly once', async () => {
    const client = grpcClient(IotServiceService, iot!.grpcAddress, () =>
      issuer.metadata({ scopes: ['iot:read', 'iot:write'], operators: [operatorId], sub: 'iot-kill-app' }),
    );
    for (let i = 0; i < DEVICES; i++) {
      const res = await client.registerDevice({
        requestId: uniqueName('reg'),
        tenancy: { operatorId, projectId, merchantId: '' },
        kind: DeviceKind.DEVICE_KIND_METER,
        name: `meter ${i}`,
        serialNumber: uniqueName('m'),
        profile: '',
      });
      const d = new SimDevice(res.credentials as DeviceCredentials);
      await d.connect();
      devices.push(d);
    }
    client.close();

    // each device publishes until told to stop; a publish without PUBACK (broker down) is sent
    // again with the same message id until the broker acknowledges it
    const published = new Map<string, Set<string>>();
    let running = true;
    const loops = devices.map(async (d) => {
      const ids = new Set<string>();
      published.set(d.deviceId, ids);
      let n = 0;
      while (running) {
        const id = d.nextId();
        n += 1;
        for (;;) {
          try {
            await withTimeout(d.telemetry({ energy_kwh: n }, { id }), 5_000);
            ids.add(id);
            break;
          } catch {
            await new Promise((r) => setTimeout(r, 200));
          }
        }
        await new Promise((r) => setTimeout(r, 5));
      }
    });
    const total = () => [...published.values()].reduce((s, ids) => s + ids.size, 0);
    await waitFor('a first third', async () => (total() >= 600 ? true : undefined), 120_000);
    // iot dies mid-stream without a word, and comes back with the same client id
    await iot!.stop('SIGKILL');
    await waitFor(
      'devices publish on while iot is down',
      async () => (total() >= 900 ? true : undefined),
      120_000,
    );
    iot = await startIot();
    await waitFor('two thirds', async () => (total() >= 1_500 ? true : undefined), 120_000);
    // the broker restarts mid-stream (its persistence keeps iot's session and queued messages)
    broker('restart');
    await waitFor('after the broker restart', async () => (total() >= 2_200 ? true : undefined), 120_000);
    running = false;
    await Promise.all(loops);

    const pg = new Client({ connectionString: db.url });
    await pg.connect();
    try {
      const stored = async () =>
        (
          await pg.query<{ device_id: string; message_id: string }>(
            `SELECT device_id, message_id FROM telemetry_history WHERE channel = 'telemetry'`,
          )
        ).rows;
      const expected = total();
      await waitFor(
        `all ${expected} published messages stored`,
        async () => ((await stored()).length >= expected ? true : undefined),
        180_000,
        500,
      );
      const rows = await stored();
      // exactly the published ones: none lost, none twice, none invented
      const got = new Set(rows.map((r) => `${r.device_id}/${r.message_id}`));
      expect(got.size).toBe(rows.length);
      const want = new Set(
        [...published].flatMap(([deviceId, ids]) => [...ids].map((id) => `${deviceId}/${id}`)),
      );
      expect([...want].filter((k) => !got.has(k))).toEqual([]);
      expect(rows.length).toBe(want.size);
    } finally {
      await pg.end();
    }
  }, 600_000);
});

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('timeout')), ms);
    p.then(
      (v) => {
        clearTimeout(t);
        resolve(v);
      },
      (e: unknown) => {
        clearTimeout(t);
        reject(e as Error);
      },
    );
  });
}
