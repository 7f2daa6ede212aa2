import { ChildProcess, execFileSync, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Admin } from 'kafkajs';
import { Client } from 'pg';
import { cityPeriod, createKafka } from '@citybase/platform';
import {
  bearer,
  grpcClient,
  kafkaTestPrefix,
  REPO_ROOT,
  routeProjectToSandbox,
  SandboxChannelProcess,
  spawnSandboxChannel,
  TEST_IDENTITY_MASTER_KEY,
  testEndpoints,
  TestIssuer,
  waitFor,
} from '@citybase/platform/testing';
import { PaymentScenario, PaymentServiceService } from '@citybase/contracts/citybase/payment/v1/payment';
import { PointsServiceService } from '@citybase/contracts/citybase/points/v1/points';
import { AccountKind } from '@citybase/contracts/citybase/settlement/v1/settlement';
import type { CityReport } from '@citybase/simulator';
import { callWhileRestarting, KafkaCluster, ServiceFleet, settlementLedgerCheck } from '../src';

const SERVICES = ['identity', 'payment', 'settlement', 'points', 'marketing', 'iot', 'data'] as const;
/** The services that call others as their own API client (deploy/local/start.sh CALLING_SERVICES). */
const CALLING_SERVICES = ['marketing', 'payment', 'iot'] as const;
const REPLICAS = 2;
/** The city simulator's business operations per second (a shared machine: gentle). */
const SIM_RATE = process.env.SCALEOUT_SIM_RATE ?? '3';
/** Payments acknowledged before the first kill, and after the last restart before the load stops. */
const BEFORE_CHAOS = 60;
const AFTER_CHAOS = 60;
const POINTS_EACH = 10n;
const POINT_VALUE_MINOR = 2n;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The scopes start.sh gives a calling service's own client (read from it: one source). */
function callerScopes(name: string): string {
  const text = readFileSync(join(REPO_ROOT, 'deploy/local/start.sh'), 'utf8');
  const scopes = new RegExp(`^\\s*${name}\\) scopes="([^"]+)"`, 'm').exec(text)?.[1];
  if (!scopes) throw new Error(`deploy/local/start.sh gives ${name} no scopes`);
  return scopes;
}

/** Business operations the simulator finished ok so far, from its last summary line. */
function simulatorOk(out: string): number {
  const lines = out.split('\n').filter((l) => l.startsWith('[simulator] ') && l.includes(' ops/s '));
  const last = lines[lines.length - 1] ?? '';
  return [...last.matchAll(/ ([a-z-]+)=(\d+)/g)]
    .filter((m) => m[1] !== 'in-flight' && m[1] !== 'skipped')
    .reduce((n, m) => n + Number(m[2]), 0);
}

/** Messages each consumer group of the namespace is behind, over the partitions of the topics it consumes. */
async function consumerLag(admin: Admin, prefix: string): Promise<Map<string, number>> {
  const groups = (await admin.listGroups()).groups.map((g) => g.groupId).filter((g) => g.startsWith(prefix));
  const topics = (await admin.listTopics()).filter((t) => t.startsWith(prefix));
  const readEnds = async () => {
    const ends = new Map<string, Map<number, { high: number; low: number }>>();
    for (const topic of topics)
      ends.set(
        topic,
        new Map(
          (await admin.fetchTopicOffsets(topic)).map((o) => [
            o.partition,
            { high: Number(o.high), low: Number(o.low) },
          ]),
        ),
      );
    return ends;
  };
  const endsKey = (ends: Awaited<ReturnType<typeof readEnds>>) =>
    JSON.stringify([...ends].map(([topic, partitions]) => [topic, [...partitions]]));
  // one snapshot: the topics' ends must not move while the groups' offsets are read (an event
  // published and consumed meanwhile, e.g. by a job, made every group look 2 ahead of the end)
  for (let attempt = 1; ; attempt++) {
    const ends = await readEnds();
    const committed = new Map<string, Awaited<ReturnType<Admin['fetchOffsets']>>>();
    for (const groupId of groups) committed.set(groupId, await admin.fetchOffsets({ groupId, topics }));
    if (endsKey(await readEnds()) !== endsKey(ends)) {
      if (attempt >= 20) throw new Error('the topics kept growing while the offsets were read');
      continue;
    }
    const lag = new Map<string, number>();
    for (const [groupId, offsets] of committed) {
      let behind = 0;
      for (const { topic, partitions } of offsets) {
        // a topic the group never committed on is one it does not consume
        if (partitions.every((p) => Number(p.offset) < 0)) continue;
        for (const p of partitions) {
          const end = ends.get(topic)!.get(p.partition)!;
          behind += end.high - (Number(p.offset) < 0 ? end.low : Number(p.offset));
        }
      }
      lag.set(groupId, behind);
    }
    return lag;
  }
}

/**
 * Scale-out on one machine as on many: a 3-node Kafka cluster (KRaft, replication factor 3, min
 * in-sync replicas 2; deploy/local/kafka.sh cluster) and two processes of each of the seven
 * services on their own ports, each pair on one database and in the same consumer groups, set up as
 * deploy/local/start.sh --replicas sets up the local city: every service trusts identity's own
 * keys, the city admin from `citybase init`, the calling services (marketing, payment, iot) with
 * their own API clients and every replica of the services they call (`ipv4:a,b` targets).
 *
 * The load is the city simulator (tools/simulator's CLI, docs/simulator.md: checkouts with points
 * and coupons, parking, charging, property fees, flash sales, group buys, refunds, doors, telemetry,
 * the agency's feed), given every replica of each service, plus the e2e kit's payments and points
 * issuances of an operator of the test's own, counted exactly. While it runs, the Kafka node leading
 * most partitions is SIGKILLed and restarted, then one replica of every service (all seven at once).
 * Clients make a call that found a replica down again, the same request id, on the other.
 * Afterwards the simulator's invariants hold (settlement's ledger check, budgets, coupons,
 * checkouts), every acknowledged payment and issuance of the kit exists exactly once and was applied
 * once downstream, every outbox is published and every consumer group's lag returns to zero (the
 * time that takes, from the end of the load, is printed with the other figures).
 */
describe('scale-out: 3 Kafka brokers and 2 replicas of each service, SIGKILLs under the city simulator', () => {
  const cluster = new KafkaCluster(Number(process.env.SCALEOUT_KAFKA_BASE_PORT ?? 19192));
  const prefix = kafkaTestPrefix('scaleout');
  const operatorId = 'op-scale';
  const projectId = 'proj-scale';
  const stateDir = mkdtempSync(join(tmpdir(), 'citybase-scaleout-'));
  const adminFile = join(stateDir, 'city-admin.json');
  let issuer: TestIssuer | undefined;
  let sandbox: SandboxChannelProcess | undefined;
  let fleet: ServiceFleet | undefined;
  let admin: Admin | undefined;
  let simulator: ChildProcess | undefined;
  let adminToken = '';
  let tokenTimer: NodeJS.Timeout | undefined;
  const pg = new Map<string, Client>();

  const count = async (service: string, sql: string, params: unknown[] = []) =>
    (await pg.get(service)!.query<{ n: number }>(sql, params)).rows[0]!.n;
  const credentials = (file: string) =>
    JSON.parse(readFileSync(join(stateDir, file), 'utf8')) as { client_id: string; client_secret: string };
  const cli = (args: string[], env: Record<string, string>) =>
    execFileSync(process.execPath, [join(REPO_ROOT, 'tools/cli/bin/citybase.js'), ...args], {
      env: { PATH: process.env.PATH ?? '', ...env },
      stdio: 'pipe',
    }).toString();
  /** The city admin's token from identity (replica 0, never killed here), renewed every minute. */
  const renewAdminToken = async () => {
    const res = await fetch(`${fleet!.httpUrls('identity')[0]}/oauth/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'client_credentials', ...credentials('city-admin.json') }),
    });
    if (res.status !== 200) throw new Error(`identity refused the city admin a token (HTTP ${res.status})`);
    adminToken = ((await res.json()) as { access_token: string }).access_token;
  };
  const asAdmin = () => bearer(adminToken);

  beforeAll(async () => {
    await cluster.destroy(); // what a failed earlier run left
    await cluster.start();
    admin = createKafka({ clientId: 'scale-out-test', brokers: cluster.brokers.split(',') }).admin();
    await admin.connect();
    // the fleet's kit wants an issuer; the services here trust identity's keys (AUTH_JWKS_URL below)
    issuer = await TestIssuer.start();
    sandbox = await spawnSandboxChannel({ autoPay: 'success', autoPayDelayMs: 20, notifyDelayMs: 10 });
    const f: ServiceFleet = new ServiceFleet({
      label: 'scaleout',
      issuer,
      kafkaPrefix: () => prefix,
      logLevel: 'warn',
      replicas: REPLICAS,
      readyTimeoutMs: 240_000, // fourteen processes starting on a shared machine
      env: (name, { ports }): Record<string, string> => {
        const own = CALLING_SERVICES.find((c) => c === name);
        const client = own ? credentials(`${own}-client.json`) : undefined;
        return {
          KAFKA_BROKERS: cluster.brokers,
          // a killed member holds its partitions until its session times out: keep that short here
          KAFKA_SESSION_TIMEOUT_MS: '6000',
          // fourteen processes on one PostgreSQL (max_connections 100 by default): 4 each, not 10
          DATABASE_POOL_SIZE: '4',
          PAYMENT_RECONCILE_INTERVAL_MS: '1000',
          PAYMENT_CHANNEL_TIMEOUT_MS: '3000',
          // identity's own keys: each identity replica serves them, the others ask replica 0
          AUTH_JWKS_URL:
            name === 'identity'
              ? `http://127.0.0.1:${ports.httpPort}/.well-known/jwks.json`
              : `${f.httpUrls('identity')[0]}/.well-known/jwks.json`,
          ...(name === 'identity'
            ? {}
            : {
                IDENTITY_GRPC_URL: f.target('identity'),
                PAYMENT_GRPC_URL: f.target('payment'),
                SETTLEMENT_GRPC_URL: f.target('settlement'),
                POINTS_GRPC_URL: f.target('points'),
                MARKETING_GRPC_URL: f.target('marketing'),
              }),
          ...(client
            ? {
                [`${name.toUpperCase()}_CLIENT_ID`]: client.client_id,
                [`${name.toUpperCase()}_CLIENT_SECRET`]: client.client_secret,
              }
            : {}),
        };
      },
    });
    fleet = f;
    // identity first: the city admin (citybase init) and the calling services' own clients, as
    // start.sh makes them, then every other service with them
    await f.start(['identity']);
    cli(['init', '--name', 'City admin', '--save', adminFile], {
      DATABASE_URL: f.dbs.get('identity')!.url,
      // identity's environment: its events (ClientCreated) go to the test's topics, which exist
      KAFKA_TOPIC_PREFIX: prefix,
      CITY_ID: 'test-city',
      IDENTITY_MASTER_KEY: TEST_IDENTITY_MASTER_KEY,
    });
    for (const name of CALLING_SERVICES)
      cli(
        ['client', 'create', '--name', `${name} service`, '--scope', callerScopes(name)].concat([
          '--credentials',
          adminFile,
          '--save',
          join(stateDir, `${name}-client.json`),
        ]),
        {
          CITYBASE_IDENTITY_URL: f.httpUrls('identity')[0]!,
          CITYBASE_IDENTITY_GRPC: f.address('identity'),
        },
      );
    await f.start(SERVICES.filter((s) => s !== 'identity'));
    for (const name of SERVICES) {
      const client = new Client({ connectionString: f.dbs.get(name)!.url });
      await client.connect();
      pg.set(name, client);
    }
    await renewAdminToken();
    tokenTimer = setInterval(() => void renewAdminToken().catch(() => undefined), 60_000);
    // the kit's own operator: payments routed to the sandbox channel, a points programme and budgets
    await routeProjectToSandbox({
      paymentAddress: f.address('payment'),
      issuer: { metadata: asAdmin } as unknown as TestIssuer, // the helper only asks it for metadata
      sandbox,
      operatorId,
      projectId,
    });
    const city = grpcClient(PointsServiceService, f.address('points'), asAdmin);
    try {
      const tenancy = { operatorId, projectId: '', merchantId: '' };
      await city.setProgramme({
        requestId: randomUUID(),
        programme: {
          tenancy,
          pointValue: { currency: 'CNY', amountMinor: POINT_VALUE_MINOR },
          lotLifetimeDays: 365,
          refundWindowHours: 0,
          shortfallPolicy: 1,
          expiryNoticeDays: 0,
          tiers: [],
          tierWindowDays: 365,
          updatedAt: undefined,
        },
      });
      const period = cityPeriod(new Date());
      // the city's budget is raised by the simulator too (each of its operators): ask for plenty
      await city.setBudget({
        requestId: randomUUID(),
        tenancy: { ...tenancy, operatorId: '' },
        period,
        allotted: 1_000_000_000n,
      });
      await city.setBudget({ requestId: randomUUID(), tenancy, period, allotted: 10_000_000n });
    } finally {
      city.close();
    }
  }, 900_000);

  afterAll(async () => {
    if (simulator && simulator.exitCode === null) simulator.kill('SIGKILL');
    clearInterval(tokenTimer);
    for (const client of pg.values()) await client.end().catch(() => undefined);
    await admin?.disconnect().catch(() => undefined);
    await fleet?.stop().catch(() => undefined);
    await sandbox?.stop().catch(() => undefined);
    await issuer?.stop().catch(() => undefined);
    await cluster.destroy().catch(() => undefined);
    rmSync(stateDir, { recursive: true, force: true });
  }, 180_000);

  /** What each side recorded of paid payments that have no escrow order (a failure's explanation). */
  const explainMissingOrders = async (paymentIds: string[]) => {
    const rows = async (service: string, sql: string, params: unknown[] = []) =>
      (await pg.get(service)!.query(sql, params)).rows;
    const succeeded = await rows(
      'payment',
      `SELECT partition_key, event_id, topic, published_at FROM outbox
        WHERE partition_key = ANY($1) AND event_type LIKE '%PaymentSucceeded'`,
      [paymentIds],
    );
    const eventIds = succeeded.map((r) => (r as { event_id: string }).event_id);
    const dlqs = (await admin!.listTopics()).filter((t) => t.startsWith(prefix) && t.includes('.dlq.'));
    const dlqSizes = await Promise.all(
      dlqs.map(async (t) => [t, (await admin!.fetchTopicOffsets(t)).map((o) => `${o.low}..${o.high}`)]),
    );
    const logs = fleet!
      .logs('settlement')
      .split('\n')
      .filter((l) => l.startsWith('---') || /dead-letter|died|crash|retry|rejoin|error/i.test(l));
    return {
      paymentOutbox: succeeded,
      settlementInbox: await rows('settlement', 'SELECT * FROM inbox WHERE event_id = ANY($1::uuid[])', [
        eventIds,
      ]),
      settlementOrders: await rows(
        'settlement',
        'SELECT order_id, operator_id FROM escrow_orders WHERE order_id = ANY($1::uuid[])',
        [paymentIds],
      ),
      groupAttempts: await rows('settlement', 'SELECT * FROM inbox_group_attempt'),
      messageAttempts: await rows('settlement', 'SELECT * FROM inbox_message_attempt'),
      dlqSizes: Object.fromEntries(dlqSizes),
      settlementLogs: logs.slice(-60),
    };
  };

  it("the simulator's invariants hold; loses nothing acknowledged, applies nothing twice, balances the books and catches up", async () => {
    const f = fleet!;
    // the city simulator, given every replica of every service (as start.sh --replicas gives it)
    let simOut = '';
    let simErr = '';
    const sim = spawn(
      process.execPath,
      [
        join(REPO_ROOT, 'tools/simulator/dist/main.js'),
        '--rate',
        SIM_RATE,
        '--seed',
        'scaleout',
        // after the kills the consumers catch up on their lag (a killed member's partitions wait for
        // its session to time out): the group buys' refunds reach settlement later than npm start's 25 s
        '--settle',
        '180',
      ].concat(['--credentials', adminFile]),
      {
        env: {
          PATH: process.env.PATH ?? '',
          ...Object.fromEntries(SERVICES.map((name) => [`${name.toUpperCase()}_GRPC_URL`, f.target(name)])),
          IDENTITY_HTTP_URL: f.httpUrls('identity').join(','),
          SANDBOX_URL: sandbox!.url,
          IOT_MQTT_URL: testEndpoints.iotMqttUrl(),
          SETTLEMENT_DATABASE_URL: f.dbs.get('settlement')!.url,
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    simulator = sim;
    sim.stdout.on('data', (d: Buffer) => (simOut += d.toString()));
    sim.stderr.on('data', (d: Buffer) => (simErr += d.toString()));
    const simExit = new Promise<number | null>((r) => sim.once('exit', (code) => r(code)));

    // the kit's load: each call goes to the next replica; a call that fails is made again on the next one
    let turn = 0;
    const nextReplica = (name: string) => {
      const replicas = f.replicas(name);
      return replicas[turn++ % replicas.length]!.grpcAddress;
    };
    const payments = () => grpcClient(PaymentServiceService, nextReplica('payment'), asAdmin);
    const points = () => grpcClient(PointsServiceService, nextReplica('points'), asAdmin);
    const paid = new Map<string, bigint>(); // acknowledged payment id -> amount
    const lots = new Set<string>(); // acknowledged lot ids
    let retries = 0;
    let paymentAcks = 0; // answers to distinct requests: each must name a payment of its own
    let issueAcks = 0;
    let loadOn = true;
    const kills: string[] = [];
    /** Payments acknowledged during each kill, from the SIGKILL until the process was ready again. */
    const duringKills: number[] = [];
    /** The simulator's operations finished ok during each kill (from its 10-s summary lines). */
    const simDuringKills: number[] = [];

    const paymentWorker = async (next: { i: number }) => {
      while (loadOn) {
        const i = next.i++;
        const amount = BigInt(100 + i);
        const reply = await callWhileRestarting(
          payments,
          (c) =>
            c.createPayment({
              requestId: `scale-pay-${i}-${prefix}`,
              tenancy: { operatorId, projectId, merchantId: '' },
              merchantId: 'm-scale',
              scenario: PaymentScenario.PAYMENT_SCENARIO_PARKING,
              amount: { currency: 'CNY', amountMinor: amount },
              payerRef: `plate-${i}`,
              description: 'scale-out',
              expiresInSeconds: 0,
              profitSharing: false,
            }),
          { onRetry: () => (retries += 1) },
        );
        paid.set(reply.payment!.paymentId, amount);
        paymentAcks += 1;
        await sleep(100);
      }
    };
    const issueWorker = async (next: { i: number }) => {
      while (loadOn) {
        const i = next.i++;
        const reply = await callWhileRestarting(
          points,
          (c) =>
            c.issuePoints({
              requestId: `scale-issue-${i}-${prefix}`,
              tenancy: { operatorId, projectId: '', merchantId: '' },
              holderId: `resident-${i % 50}`,
              points: POINTS_EACH,
              reason: 'WELCOME',
              expiresAt: undefined,
            }),
          { onRetry: () => (retries += 1) },
        );
        lots.add(reply.lotId);
        issueAcks += 1;
        await sleep(200);
      }
    };
    const acknowledged = () => paid.size;
    let simLoadStarted = 0;
    const chaos = async () => {
      try {
        // the simulator builds its city through the public APIs first, then runs its day of life
        const state = await waitFor(
          'the simulator to build its city and start its day of life',
          async () =>
            sim.exitCode !== null ? 'exited' : simErr.includes('a day of life at') ? 'running' : undefined,
          600_000,
          250,
        );
        if (state === 'exited')
          throw new Error(
            `the simulator exited ${sim.exitCode} before its day of life:\n${simErr.slice(-3000)}\n` +
              ['iot', 'identity']
                .flatMap((name) =>
                  f.replicas(name).map((p, i) => `--- ${name} ${i}:\n${p.output().slice(-4000)}`),
                )
                .join('\n'),
          );
        simLoadStarted = Date.now();
        await waitFor(
          "the first payments and the simulator's first summary",
          async () => (acknowledged() >= BEFORE_CHAOS && simulatorOk(simOut) > 0) || undefined,
          300_000,
          50,
        );
        // the node leading most of the city's partitions dies, the rest runs on two for a while
        const { topics } = await admin!.fetchTopicMetadata({
          topics: (await admin!.listTopics()).filter((t) => t.startsWith(prefix)),
        });
        const leads = new Map<number, number>();
        for (const t of topics)
          for (const p of t.partitions) leads.set(p.leader, (leads.get(p.leader) ?? 0) + 1);
        const node = [...leads].sort((x, y) => y[1] - x[1])[0]?.[0] ?? 1;
        let from = acknowledged();
        let simFrom = simulatorOk(simOut);
        await cluster.kill(node);
        kills.push(`kafka node ${node} (leader of ${leads.get(node) ?? 0} partitions) at payment ${from}`);
        await sleep(10_000);
        await cluster.startNode(node);
        duringKills.push(acknowledged() - from);
        simDuringKills.push(simulatorOk(simOut) - simFrom);
        // then one replica of every service, all at once
        from = acknowledged();
        simFrom = simulatorOk(simOut);
        await Promise.all(SERVICES.map((name) => f.killAndRestart(name, 1)));
        kills.push(...SERVICES.map((name) => `${name} replica 1 at payment ${from}`));
        duringKills.push(acknowledged() - from);
        simDuringKills.push(simulatorOk(simOut) - simFrom);
        const restarted = acknowledged();
        await waitFor(
          'more payments after the restarts',
          async () => acknowledged() >= restarted + AFTER_CHAOS || undefined,
          300_000,
          50,
        );
      } finally {
        loadOn = false;
      }
    };

    const started = Date.now();
    const payNext = { i: 0 };
    const issueNext = { i: 0 };
    await Promise.all([
      ...Array.from({ length: 3 }, () => paymentWorker(payNext)),
      ...Array.from({ length: 2 }, () => issueWorker(issueNext)),
      chaos(),
    ]);
    // the simulator's day of life ends with the rest of the load: it drains, then checks its invariants
    sim.kill('SIGTERM');
    const loadEnded = Date.now();
    const simCode = await simExit;
    const report = JSON.parse(simOut.trim().split('\n').pop() ?? '{}') as Partial<CityReport> & {
      error?: string;
    };
    const PAYMENTS = paid.size;
    const ISSUES = lots.size;
    expect(kills).toHaveLength(1 + SERVICES.length);
    // the kills happened under load: payments were acknowledged while each was down
    expect(duringKills.filter((n) => n === 0)).toEqual([]);
    expect(await cluster.running()).toEqual([1, 2, 3]);

    // the simulator: every invariant held (settlement's ledger check, budgets, coupons, checkouts)
    const broken = (report.invariants ?? []).filter((i) => !i.ok);
    expect({ code: simCode, report: report.simulator, ok: report.ok, error: report.error, broken }).toEqual({
      code: 0,
      report: 'report',
      ok: true,
      error: undefined,
      broken: [],
    });
    expect(report.invariants?.length).toBeGreaterThan(0);
    expect(report.totals?.ok).toBeGreaterThan(0);

    // every outbox published and every consumer group at the end of its topics. In this order: a
    // payment that turns final after its outbox was read, or an event a consumer writes while the
    // lag is read, would otherwise pass unseen (its event not yet on Kafka, the lag already zero)
    const unpublished = async () => {
      for (const name of SERVICES)
        if ((await count(name, 'SELECT count(*)::int AS n FROM outbox WHERE published_at IS NULL')) > 0)
          return true;
      return false;
    };
    await waitFor(
      'every payment final, every outbox published and every consumer lag 0',
      async () => {
        const payingOrPaid = await count(
          'payment',
          'SELECT count(*)::int AS n FROM payments WHERE project_id = $1 AND status NOT IN (3, 4, 5)',
          [projectId],
        );
        if (payingOrPaid > 0 || (await unpublished())) return undefined;
        const lag = await consumerLag(admin!, prefix);
        if (lag.size === 0 || [...lag.values()].some((n) => n !== 0)) return undefined;
        return (await unpublished()) ? undefined : lag;
      },
      300_000,
      500,
    );
    const recoveredMs = Date.now() - loadEnded;
    await sleep(3_000); // a double application would show up now
    // jobs may still publish (expiries, completions): every group catches up with them too
    const lag = await waitFor(
      'every consumer lag 0 again',
      async () => {
        const l = await consumerLag(admin!, prefix);
        return [...l.values()].every((n) => n === 0) ? l : undefined;
      },
      60_000,
      500,
    ).catch(() => consumerLag(admin!, prefix));
    expect([...lag].filter(([, n]) => n !== 0)).toEqual([]);

    // payment: every acknowledged payment of the kit once, paid, with one PaymentCreated and one PaymentSucceeded
    expect(paymentAcks).toBe(PAYMENTS);
    const { rows: paymentRows } = await pg
      .get('payment')!
      .query<{ payment_id: string; status: number; amount_minor: string }>(
        'SELECT payment_id, status, amount_minor::text FROM payments WHERE operator_id = $1',
        [operatorId],
      );
    expect(paymentRows).toHaveLength(PAYMENTS);
    expect(new Set(paymentRows.map((p) => p.payment_id))).toEqual(new Set(paid.keys()));
    expect(paymentRows.filter((p) => p.status !== 3)).toEqual([]);
    const events = await pg.get('payment')!.query<{ event_type: string; n: number; keys: number }>(
      `SELECT event_type, count(*)::int AS n, count(DISTINCT partition_key)::int AS keys FROM outbox
        WHERE partition_key IN (SELECT payment_id::text FROM payments WHERE operator_id = $1) GROUP BY 1`,
      [operatorId],
    );
    const byType = new Map(events.rows.map((e) => [e.event_type.split('.').pop(), e]));
    expect(byType.get('PaymentCreated')).toMatchObject({ n: PAYMENTS, keys: PAYMENTS });
    expect(byType.get('PaymentSucceeded')).toMatchObject({ n: PAYMENTS, keys: PAYMENTS });

    // settlement: each paid order held in escrow once, the escrow account holding exactly what was paid
    const total = [...paid.values()].reduce((a, b) => a + b, 0n);
    const { rows: orders } = await pg
      .get('settlement')!
      .query<{ order_id: string; paid_minor: string }>(
        'SELECT order_id, paid_minor::text FROM escrow_orders WHERE operator_id = $1',
        [operatorId],
      );
    const escrowed = new Set(orders.map((o) => o.order_id));
    const missing = [...paid.keys()].filter((id) => !escrowed.has(id));
    // a paid payment without its escrow order: what payment, settlement and Kafka recorded of it
    expect({ missing, why: missing.length > 0 ? await explainMissingOrders(missing) : undefined }).toEqual({
      missing: [],
      why: undefined,
    });
    expect(orders).toHaveLength(PAYMENTS);
    expect(escrowed).toEqual(new Set(paid.keys()));
    expect(orders.filter((o) => BigInt(o.paid_minor) !== paid.get(o.order_id))).toEqual([]);
    const balance = async (kind: AccountKind, project: string) => {
      const { rows } = await pg.get('settlement')!.query<{ balance: string; postings: number }>(
        `SELECT coalesce(sum(e.amount_minor), 0)::text AS balance, count(*)::int AS postings
           FROM ledger_accounts a JOIN ledger_entries e USING (account_id)
          WHERE a.kind = $1 AND a.operator_id = $2 AND a.project_id = $3`,
        [kind, operatorId, project],
      );
      return { balance: BigInt(rows[0]!.balance), postings: rows[0]!.postings };
    };
    expect(await balance(AccountKind.ACCOUNT_KIND_ESCROW, projectId)).toEqual({
      balance: -total,
      postings: PAYMENTS,
    });

    // points: every acknowledged issuance once; settlement posted the liability once each
    expect(issueAcks).toBe(ISSUES);
    const { rows: lotRows } = await pg
      .get('points')!
      .query<{ lot_id: string }>('SELECT lot_id FROM lots WHERE issuer_operator_id = $1', [operatorId]);
    expect(new Set(lotRows.map((l) => l.lot_id))).toEqual(lots);
    expect(lotRows).toHaveLength(ISSUES);
    const issuedValue = BigInt(ISSUES) * POINTS_EACH * POINT_VALUE_MINOR;
    expect((await balance(AccountKind.ACCOUNT_KIND_POINTS_LIABILITY, '')).balance).toBe(-issuedValue);

    // data: each payment and each issuance of the kit stored once
    expect(
      await count(
        'data',
        `SELECT count(DISTINCT payment_id)::int AS n FROM fact_payment WHERE status = 'succeeded' AND operator_id = $1`,
        [operatorId],
      ),
    ).toBe(PAYMENTS);
    expect(
      await count(
        'data',
        `SELECT count(*)::int AS n FROM fact_payment WHERE status = 'succeeded' AND operator_id = $1`,
        [operatorId],
      ),
    ).toBe(PAYMENTS);
    const { rows: issued } = await pg.get('data')!.query<{ n: number; points: string }>(
      `SELECT count(*)::int AS n, coalesce(sum(points), 0)::text AS points FROM fact_points_movement
        WHERE kind = 'issued' AND operator_id = $1`,
      [operatorId],
    );
    expect(issued[0]).toEqual({ n: ISSUES, points: String(BigInt(ISSUES) * POINTS_EACH) });

    // the books, now that everything caught up: settlement's ledger check over the whole city
    const ledger = settlementLedgerCheck(f.dbs.get('settlement')!.url);
    expect(ledger.violations).toEqual([]);
    expect(ledger.status).toBe(0);

    let eventCount = 0;
    for (const name of SERVICES) eventCount += await count(name, 'SELECT count(*)::int AS n FROM outbox');
    const figures = {
      brokers: 3,
      replicas_per_service: REPLICAS,
      events: eventCount,
      simulator_rate: Number(SIM_RATE),
      simulator_ops: report.totals,
      simulator_ops_per_second: report.opsPerSecond,
      simulator_ops_during_kills: simDuringKills,
      simulator_invariants: report.invariants?.map((i) => i.name),
      simulator_top_errors: report.topErrors,
      payments: paid.size,
      payments_during_kills: duringKills,
      points_issuances: lots.size,
      kills: kills.length,
      killed: kills,
      client_retries: retries,
      load_seconds: Math.round((loadEnded - (simLoadStarted || started)) / 1000),
      lag_recovery_ms: recoveredMs,
      consumer_groups: lag.size,
    };
    console.log(`scale-out figures ${JSON.stringify(figures)}`);
  }, 1_500_000);
});
