// `npm run bench -- iot`: device telemetry per second through the project's broker > the built iot
// process (shared subscription, PUBACK after Kafka) > Kafka > iot's history consumer > PostgreSQL,
// sustained for BENCH_IOT_SECONDS, with what was lost (must be 0); alarm latency (smoke reading
// published > AlarmRaised / AlarmCleared on Kafka) while that load runs; next to a bare QoS 1
// publish-subscribe on the same broker and a bare Kafka producer/consumer in the same run.
import { randomBytes, randomUUID } from 'crypto';
import mqtt from 'mqtt';
import { Client } from 'pg';
import { DeviceKind, IotServiceService } from '@citybase/contracts/citybase/iot/v1/iot';
import {
  grpcClient,
  iotMqttEnv,
  spawnService,
  testEndpoints,
  TestIssuer,
  uniqueName,
} from '@citybase/platform/testing';
import { DeviceCredentials, SimDevice } from '@citybase/device-sim';
import { kafkaBaseline, kafkaBaselineParams } from './baselines';
import {
  benchDatabase,
  benchKafka,
  benchLogger,
  Cleanup,
  Figure,
  figureValues,
  note,
  now,
  printBenchmarkFigures,
  processUsage,
  profiledSpawn,
  writeBenchReport,
} from './common';
import { intFromEnv, percentiles, perSecond, round } from './stats';

export interface IotBenchParams {
  devices: number;
  /** Publishes each device keeps in flight. */
  window: number;
  seconds: number;
  baselineMessages: number;
  /** iot processes sharing the load (shared subscription, one consumer group), as deploy/k8s runs 2. */
  replicas: number;
  /**
   * Messages per second the devices offer together (0: as fast as the broker acknowledges them,
   * each device keeping `window` in flight). With a rate the figure says whether the pipeline
   * sustains it: it stays near the rate only if every message is stored as fast as it comes.
   */
  rate: number;
}

export function iotBenchParams(env: NodeJS.ProcessEnv): IotBenchParams {
  return {
    devices: intFromEnv(env, 'BENCH_IOT_DEVICES', 40),
    window: intFromEnv(env, 'BENCH_IOT_WINDOW', 64),
    seconds: intFromEnv(env, 'BENCH_IOT_SECONDS', 60),
    baselineMessages: intFromEnv(env, 'BENCH_IOT_BASELINE_MESSAGES', 200_000),
    replicas: intFromEnv(env, 'BENCH_IOT_REPLICAS', 1),
    rate: intFromEnv(env, 'BENCH_IOT_RATE', 0),
  };
}

/** Sends dynamic-security commands with the admin account and waits for the answer. */
async function dynsec(
  url: string,
  admin: { username: string; password: string },
  commands: object[],
): Promise<void> {
  const c = await mqtt.connectAsync(url, {
    ...admin,
    clientId: `bench-dynsec-${randomUUID()}`,
    protocolVersion: 5,
  });
  try {
    await c.subscribeAsync('$CONTROL/dynamic-security/v1/response', { qos: 1 });
    const answered = new Promise<void>((resolve) => c.once('message', () => resolve()));
    await c.publishAsync('$CONTROL/dynamic-security/v1', JSON.stringify({ commands }), { qos: 1 });
    await answered;
  } finally {
    await c.endAsync();
  }
}

/** Bare QoS 1 publish > subscribe on the broker: `publishers` clients, `window` in flight each. */
async function mosquittoBaseline(p: IotBenchParams, cleanup: Cleanup): Promise<number> {
  const url = testEndpoints.iotMqttUrl();
  const admin = testEndpoints.iotMqttAdmin();
  const user = `bench-baseline-${randomBytes(4).toString('hex')}`;
  const topic = `bench/${user}`;
  const password = randomBytes(16).toString('hex');
  await dynsec(url, admin, [
    { command: 'createRole', rolename: user },
    { command: 'addRoleACL', rolename: user, acltype: 'publishClientSend', topic: `${topic}/#`, allow: true },
    { command: 'addRoleACL', rolename: user, acltype: 'subscribePattern', topic: `${topic}/#`, allow: true },
    { command: 'createClient', username: user, password, roles: [{ rolename: user }] },
  ]);
  cleanup.add('baseline broker client', () =>
    dynsec(url, admin, [
      { command: 'deleteClient', username: user },
      { command: 'deleteRole', rolename: user },
    ]),
  );
  const sub = await mqtt.connectAsync(url, {
    username: user,
    password,
    clientId: `${user}-sub`,
    protocolVersion: 5,
  });
  await sub.subscribeAsync(`${topic}/#`, { qos: 1 });
  let received = 0;
  let lastAt = 0;
  sub.on('message', () => {
    received++;
    lastAt = now();
  });
  const pubs = await Promise.all(
    Array.from({ length: p.devices }, (_, i) =>
      mqtt.connectAsync(url, { username: user, password, clientId: `${user}-pub-${i}`, protocolVersion: 5 }),
    ),
  );
  const per = Math.ceil(p.baselineMessages / pubs.length);
  const payload = JSON.stringify({
    id: 'x',
    ts: new Date().toISOString(),
    readings: { energy_kwh: 1, power_w: 2 },
  });
  const started = now();
  await Promise.all(
    pubs.map(async (c, i) => {
      let next = 0;
      await Promise.all(
        Array.from({ length: p.window }, async () => {
          while (next++ < per) await c.publishAsync(`${topic}/${i}`, payload, { qos: 1 });
        }),
      );
    }),
  );
  const deadline = Date.now() + 60_000;
  while (received < per * pubs.length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  const rate = perSecond(received, lastAt - started);
  await Promise.all([...pubs, sub].map((c) => c.endAsync()));
  return rate;
}

export async function runIot(cleanup: Cleanup): Promise<void> {
  const p = iotBenchParams(process.env);
  const started = Date.now();
  const issuer = await TestIssuer.start();
  cleanup.add('token issuer', () => issuer.stop());
  const { db, synchronousCommit } = await benchDatabase('bench_iot', cleanup);
  const prefix = `${uniqueName('benchiot')}.`;
  const topicRoot = `bench${randomBytes(4).toString('hex')}`;
  const logger = benchLogger();
  const kafka = benchKafka(logger, 'bench-iot');

  note(`baseline: bare QoS 1 publish-subscribe on the project broker, ${p.baselineMessages} messages`);
  const mosquittoRate = await mosquittoBaseline(p, cleanup);

  // one after the other: the first applies the migrations
  const iots: Awaited<ReturnType<typeof spawnService>>[] = [];
  for (let r = 0; r < p.replicas; r++) {
    const replica = await spawnService(
      'iot',
      {
        DATABASE_URL: db.url,
        DATABASE_POOL_SIZE: '20',
        KAFKA_TOPIC_PREFIX: prefix,
        AUTH_JWKS_URL: issuer.jwksUrl,
        ...iotMqttEnv('benchiot', topicRoot),
        // a client id of its own per process: two with one id take the broker's session from each other
        IOT_MQTT_CLIENT_ID: `iot-${topicRoot}-${r}`,
        IOT_INGEST_BATCH_SIZE: '2000',
        // `main` to compare with the history writer on the main event loop
        ...(process.env.BENCH_IOT_HISTORY_THREAD
          ? { IOT_HISTORY_THREAD: process.env.BENCH_IOT_HISTORY_THREAD }
          : {}),
        // to compare another in-flight window (default: iot's own)
        ...(process.env.BENCH_IOT_RECEIVE_MAXIMUM
          ? { IOT_MQTT_RECEIVE_MAXIMUM: process.env.BENCH_IOT_RECEIVE_MAXIMUM }
          : {}),
        LOG_LEVEL: process.env.BENCH_LOG_LEVEL ?? 'warn',
      },
      profiledSpawn(),
    );
    cleanup.add(`iot process ${r}`, () => replica.stop());
    await replica.ready();
    iots.push(replica);
  }
  const iot = iots[0]!;
  const operatorId = 'bench-operator';
  const projectId = 'bench-project';
  const metadata = issuer.metadata({ scopes: ['iot:read', 'iot:write'], operators: [operatorId] });
  const client = grpcClient(IotServiceService, iot.grpcAddress, () => metadata);
  cleanup.add('gRPC client', () => Promise.resolve(client.close()));
  const register = async (kind: DeviceKind, profile = '') => {
    const res = await client.registerDevice({
      requestId: randomUUID(),
      tenancy: { operatorId, projectId, merchantId: '' },
      kind,
      name: 'bench',
      serialNumber: uniqueName('sn'),
      profile,
    });
    const d = new SimDevice(res.credentials as DeviceCredentials, { keepaliveS: 60 });
    await d.connect();
    cleanup.add('device', () => d.crash());
    return d;
  };
  const meters = await Promise.all(
    Array.from({ length: p.devices }, () => register(DeviceKind.DEVICE_KIND_METER)),
  );
  const smoke = await register(DeviceKind.DEVICE_KIND_SMOKE_SENSOR, 'lab-sensor');

  // AlarmRaised / AlarmCleared as they reach Kafka (through iot's outbox)
  const alarmEvents: { type: string; at: number }[] = [];
  const consumer = kafka.consumer({ groupId: `${prefix}bench-alarms` });
  cleanup.add('alarm consumer', () => consumer.disconnect());
  await consumer.connect();
  await consumer.subscribe({ topic: `${prefix}citybase.iot.alarms.v1`, fromBeginning: true });
  await consumer.run({
    eachMessage: async ({ message }) => {
      const type = message.headers?.ce_type?.toString() ?? '';
      if (message.key?.toString() === smoke.deviceId && /AlarmRaised|AlarmCleared/.test(type))
        alarmEvents.push({ type, at: now() });
    },
  });

  note(`${p.devices} devices publishing QoS 1 telemetry, ${p.window} in flight each, for ${p.seconds} s`);
  let running = true;
  let published = 0;
  let failed = 0;
  const loadStarted = now();
  const publish = async (d: SimDevice, v: number) => {
    try {
      await d.telemetry({ energy_kwh: v, power_w: 100 });
      published++;
    } catch {
      failed++;
    }
  };
  const loops = meters.map(async (d, i) => {
    let v = 0;
    if (p.rate === 0) {
      // as fast as the broker acknowledges: `window` publishes in flight all the time
      await Promise.all(
        Array.from({ length: p.window }, async () => {
          while (running) await publish(d, ++v);
        }),
      );
      return;
    }
    // paced: every 10 ms the device starts what its share of the rate owes by now (at most
    // `window` in flight; behind that, it catches up as acknowledgements come)
    const share = p.rate / meters.length / 1000;
    const inFlight = new Set<Promise<void>>();
    await new Promise((r) => setTimeout(r, (10 * i) / meters.length)); // spread the devices' ticks
    while (running) {
      const owed = Math.floor((now() - loadStarted) * share) - v;
      for (let k = 0; k < owed && inFlight.size < p.window; k++) {
        const sent = publish(d, ++v).finally(() => inFlight.delete(sent));
        inFlight.add(sent);
      }
      await new Promise((r) => setTimeout(r, 10));
    }
    await Promise.all(inFlight);
  });
  // alarms while the load runs: smoke, then clean air, each waited for on Kafka
  const alarmLatencies: number[] = [];
  const alarmLoop = (async () => {
    await new Promise((r) => setTimeout(r, 5_000));
    for (let i = 0; running; i++) {
      const want = i % 2 === 0 ? 'AlarmRaised' : 'AlarmCleared';
      const seen = alarmEvents.length;
      const t0 = now();
      // the detector's own alarm (alarms channel): raised, then ended
      await smoke.alarm('SMOKE', i % 2 === 0, 'CRITICAL', i % 2 === 0 ? 600 : 2);
      while (running && !alarmEvents.slice(seen).some((e) => e.type.endsWith(want)))
        await new Promise((r) => setTimeout(r, 2));
      const e = alarmEvents.slice(seen).find((x) => x.type.endsWith(want));
      if (e) alarmLatencies.push(e.at - t0);
      await new Promise((r) => setTimeout(r, 200));
    }
  })();
  await new Promise((r) => setTimeout(r, p.seconds * 1000));
  running = false;
  await Promise.all([...loops, alarmLoop]);
  const publishMs = now() - loadStarted;
  for (const replica of iots)
    if (replica.proc.exitCode !== null || replica.proc.signalCode !== null)
      throw new Error(
        `iot exited (${replica.proc.exitCode ?? replica.proc.signalCode}) during the load:\n${replica.output().slice(-4000)}`,
      );

  // drain: every acknowledged message must reach PostgreSQL. The meters' rows only: the smoke
  // detector's alarms are not telemetry rows (an earlier version waited for one more row than the
  // meters published, so every run waited out the 30 s give-up and counted it as drain time).
  const pg = new Client({ connectionString: db.url });
  await pg.connect();
  cleanup.add('pg', () => pg.end());
  const storedCount = async () =>
    Number(
      (
        await pg.query<{ n: string }>(
          "SELECT count(*) AS n FROM telemetry_history WHERE channel = 'telemetry' AND device_id <> $1",
          [smoke.deviceId],
        )
      ).rows[0]?.n ?? 0,
    );
  let meterStored = await storedCount();
  let lastGrowth = now();
  while (meterStored < published && now() - lastGrowth < 30_000) {
    await new Promise((r) => setTimeout(r, 250));
    const n = await storedCount();
    if (n > meterStored) lastGrowth = now();
    meterStored = n;
  }
  // until the last row was seen stored (within the 250 ms of a poll), not until the loop ended
  const drainedMs = lastGrowth - loadStarted;
  const lost = Math.max(0, published - meterStored);
  const spawned = Object.fromEntries(
    iots.map((replica, r) => [r === 0 ? 'iot' : `iot-${r}`, processUsage(replica.proc.pid ?? 0)]),
  );
  await Promise.all(iots.map((replica) => replica.stop()));

  note('baseline: bare kafkajs producer/consumer');
  const kafkaP = kafkaBaselineParams(process.env);
  const kb = await kafkaBaseline(kafka, kafkaP, cleanup);

  const rate = perSecond(meterStored, drainedMs);
  const [a50, a99] = percentiles(alarmLatencies.length ? alarmLatencies : [NaN], [50, 99]);
  const figures: Figure[] = [
    {
      name: 'telemetry_msgs_per_s',
      value: round(rate, 1),
      unit: 'msgs/s',
      how: `${p.devices} simulated meters (mqtt.js, QoS 1, ${p.window} in flight each${p.rate > 0 ? `, offering ${p.rate} msgs/s together` : ''}) publishing for ${p.seconds} s to the project's Mosquitto; ${p.replicas === 1 ? 'the built iot process' : `${p.replicas} built iot processes`} (shared subscription, PUBACK after Kafka, batches of up to 2000) > Kafka > iot's history consumer > PostgreSQL (synchronous_commit=${synchronousCommit}); messages stored / time from the first publish until the last was stored (${round(drainedMs / 1000, 1)} s; publishing ${round(publishMs / 1000, 1)} s at ${round(perSecond(published, publishMs), 1)}/s)`,
    },
    {
      name: 'lost',
      value: lost,
      unit: 'messages',
      how: `messages the broker acknowledged to a device (${published}) and not in telemetry_history (${meterStored} stored); must be 0`,
    },
    {
      name: 'alarm_p99_ms',
      value: round(a99, 1),
      unit: 'ms',
      how: `a smoke detector's own alarm published (alarms channel: active, then ended) > AlarmRaised / AlarmCleared on Kafka (iot's urgent MQTT connection > ingest > alarms topic > alarm consumer > outbox > relay), ${alarmLatencies.length} alarms while the telemetry load ran, 99th percentile (median ${round(a50, 1)} ms)`,
    },
    {
      name: 'baseline_mosquitto_msgs_per_s',
      value: round(mosquittoRate, 1),
      unit: 'msgs/s',
      how: `bare mqtt.js QoS 1 publish (${p.devices} publishers, ${p.window} in flight each) > one QoS 1 subscriber on the same broker, ${p.baselineMessages} messages, same run`,
    },
    {
      name: 'baseline_kafka_eps',
      value: round(kb.eps, 1),
      unit: 'events/s',
      how: `bare kafkajs producer (acks=all) > consumer, ${kafkaP.messages} messages of ${kafkaP.valueBytes} B in batches of ${kafkaP.batch}, same run`,
    },
  ];
  printBenchmarkFigures('iot', started, figures);
  process.stdout.write(
    [
      '',
      'diagnostics (not in the JSON):',
      `  publish failures (retried by the loop) ${failed}`,
      `  target telemetry_msgs_per_s >= 10,000: ${rate >= 10_000 ? 'met' : 'NOT met'} on this machine`,
      '',
    ].join('\n'),
  );
  await writeBenchReport('iot', started, figureValues(figures), { ...p }, spawned);
}
