// `bench city`: the city simulator's sustained business operations per second against every
// service as its own process (identity issuing real tokens, payment, settlement, points, marketing,
// iot, data), the sandbox channel paying at once, the shared 1-broker Kafka, PostgreSQL, Redis and
// the project's Mosquitto; what each service cost at that load (CPU while the load ran, peak RSS);
// next to the machine's pgbench baseline measured in the same run.
import { execFileSync } from 'child_process';
import { mkdtempSync, readFileSync, rmSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { randomBytes } from 'crypto';
import {
  freePort,
  iotMqttEnv,
  ServiceProcess,
  spawnSandboxChannel,
  spawnService,
  TEST_IDENTITY_MASTER_KEY,
  uniqueName,
  waitFor,
} from '@citybase/platform/testing';
import { CityReport, runCity } from '@citybase/simulator';
import { pgbenchBaseline, pgbenchFigure, pgbenchParams, pgbenchReportParams } from './baselines';
import {
  benchDatabase,
  Cleanup,
  Figure,
  figureValues,
  note,
  printBenchmarkFigures,
  processUsage,
  ProcessUsage,
  profiledSpawn,
  REPO_ROOT,
  writeBenchReport,
} from './common';
import { intFromEnv, round } from './stats';

const SERVICES = ['identity', 'payment', 'settlement', 'points', 'marketing', 'iot', 'data'] as const;
type Service = (typeof SERVICES)[number];
/** The services that call others as their own API client (deploy/local/start.sh step 5c). */
const CALLING = ['marketing', 'payment', 'iot'] as const;

export interface CityBenchParams {
  rate: number;
  seconds: number;
  operators: number;
  communities: number;
  households: number;
}

export function cityBenchParams(env: NodeJS.ProcessEnv): CityBenchParams {
  return {
    rate: intFromEnv(env, 'BENCH_CITY_RATE', 30),
    seconds: intFromEnv(env, 'BENCH_CITY_SECONDS', 60),
    operators: intFromEnv(env, 'BENCH_CITY_OPERATORS', 2),
    communities: intFromEnv(env, 'BENCH_CITY_COMMUNITIES', 2),
    households: intFromEnv(env, 'BENCH_CITY_HOUSEHOLDS', 6),
  };
}

/** The scopes start.sh gives each calling service's own client (one place says them: start.sh). */
function callingScopes(): Record<string, string> {
  const text = readFileSync(join(REPO_ROOT, 'deploy/local/start.sh'), 'utf8');
  const out: Record<string, string> = {};
  for (const m of text.matchAll(/^\s*(\w+)\) scopes="([^"]+)"/gm)) out[m[1]!] = m[2]!;
  for (const name of CALLING)
    if (!out[name]) throw new Error(`no scopes for ${name} in deploy/local/start.sh`);
  return out;
}

export async function runCityBench(cleanup: Cleanup): Promise<void> {
  const p = cityBenchParams(process.env);
  const pg = pgbenchParams(process.env);
  const started = Date.now();
  const prefix = `${uniqueName('benchcity')}.`;
  const logLevel = process.env.BENCH_LOG_LEVEL ?? 'warn';
  const stateDir = mkdtempSync(join(tmpdir(), 'citybase-bench-city-'));
  cleanup.add('state directory', async () => rmSync(stateDir, { recursive: true, force: true }));

  // the raw baseline first, on a quiet machine (as quiet as a shared one gets)
  const baseline = await pgbenchBaseline(pg, cleanup);

  const dbs = {} as Record<Service, string>;
  for (const name of SERVICES) dbs[name] = (await benchDatabase(`bench_city_${name}`, cleanup)).db.url;
  const ports = {} as Record<Service, { grpc: number; http: number }>;
  for (const name of SERVICES) ports[name] = { grpc: await freePort(), http: await freePort() };
  const grpcOf = (name: Service) => `127.0.0.1:${ports[name].grpc}`;
  const jwks = `http://127.0.0.1:${ports.identity.http}/.well-known/jwks.json`;
  const iotRoot = `bc${randomBytes(4).toString('hex')}`;
  const procs = new Map<Service, ServiceProcess>();
  const start = async (name: Service, extra: Record<string, string> = {}) => {
    const proc = await spawnService(
      name,
      {
        GRPC_PORT: String(ports[name].grpc),
        HTTP_PORT: String(ports[name].http),
        PAYMENT_PUBLIC_URL: `http://127.0.0.1:${ports[name].http}`,
        DATABASE_URL: dbs[name],
        KAFKA_TOPIC_PREFIX: prefix,
        AUTH_JWKS_URL: jwks,
        LOG_LEVEL: logLevel,
        IDENTITY_GRPC_URL: grpcOf('identity'),
        PAYMENT_GRPC_URL: grpcOf('payment'),
        SETTLEMENT_GRPC_URL: grpcOf('settlement'),
        POINTS_GRPC_URL: grpcOf('points'),
        MARKETING_GRPC_URL: grpcOf('marketing'),
        // iot's own topics and broker account on the shared Mosquitto
        ...iotMqttEnv('benchcity', iotRoot),
        MARKETING_GATE_KEY_PREFIX: iotRoot,
        ...extra,
      },
      profiledSpawn(),
    );
    cleanup.add(`${name} process`, () => proc.stop());
    procs.set(name, proc);
    return proc;
  };
  /**
   * Waits until `name` answers /readyz on its own port (fixed above, so services can name each
   * other before they start: ServiceProcess.ready() knows only the ports spawnService chose).
   */
  const ready = async (name: Service) => {
    const proc = procs.get(name)!;
    const state = await waitFor(
      `${name} ready`,
      async () => {
        if (proc.proc.exitCode !== null) return 'exited';
        const res = await fetch(`http://127.0.0.1:${ports[name].http}/readyz`).catch(() => undefined);
        return res?.status === 200 ? 'ready' : undefined;
      },
      180_000,
      250,
    ).catch((err: Error) => err.message);
    if (state !== 'ready')
      throw new Error(`${name} did not get ready (${state}):\n${proc.output().slice(-3000)}`);
  };

  note("starting identity; the city admin and the calling services' clients (as npm start makes them)");
  await start('identity');
  await ready('identity');
  const cli = (args: string[], env: Record<string, string>) =>
    execFileSync(process.execPath, [join(REPO_ROOT, 'tools/cli/bin/citybase.js'), ...args], {
      env: { PATH: process.env.PATH ?? '', ...env },
      stdio: 'pipe',
    }).toString();
  const adminFile = join(stateDir, 'city-admin.json');
  cli(['init', '--name', 'City admin', '--save', adminFile], {
    DATABASE_URL: dbs.identity,
    // identity's environment: its outbox rows (ClientCreated) name the run's topics, which exist
    KAFKA_TOPIC_PREFIX: prefix,
    CITY_ID: 'test-city',
    IDENTITY_MASTER_KEY: TEST_IDENTITY_MASTER_KEY,
  });
  const scopes = callingScopes();
  const clientEnv: Record<string, string> = {};
  for (const name of CALLING) {
    const file = join(stateDir, `${name}-client.json`);
    cli(
      [
        'client',
        'create',
        '--name',
        `${name} service`,
        '--scope',
        scopes[name]!,
        '--credentials',
        adminFile,
        '--save',
        file,
      ],
      {
        CITYBASE_IDENTITY_URL: `http://127.0.0.1:${ports.identity.http}`,
        CITYBASE_IDENTITY_GRPC: grpcOf('identity'),
      },
    );
    const c = JSON.parse(readFileSync(file, 'utf8')) as { client_id: string; client_secret: string };
    clientEnv[`${name.toUpperCase()}_CLIENT_ID`] = c.client_id;
    clientEnv[`${name.toUpperCase()}_CLIENT_SECRET`] = c.client_secret;
  }
  const sandbox = await spawnSandboxChannel({ autoPay: 'success', autoPayDelayMs: 0, notifyDelayMs: 0 });
  cleanup.add('sandbox channel', () => sandbox.stop());
  note('starting payment, settlement, points, marketing, iot, data');
  for (const name of SERVICES.filter((s) => s !== 'identity')) await start(name, clientEnv);
  await Promise.all([...procs.keys()].map((name) => ready(name)));

  let atLoad: Record<string, ProcessUsage> | undefined;
  const usage = () =>
    Object.fromEntries([...procs.entries()].map(([name, proc]) => [name, processUsage(proc.proc.pid!)]));
  note(`the simulator: ${p.rate} ops/s for ${p.seconds}s`);
  const report: CityReport = await runCity(
    {
      rate: p.rate,
      durationS: p.seconds,
      seed: 'bench',
      credentialsFile: adminFile,
      operators: p.operators,
      communitiesPerOperator: p.communities,
      householdsPerCommunity: p.households,
      sensorsPerCommunity: 2,
      maxInFlight: 64,
    },
    {
      env: {
        ...Object.fromEntries(SERVICES.map((s) => [`${s.toUpperCase()}_GRPC_URL`, grpcOf(s)])),
        IDENTITY_HTTP_URL: `http://127.0.0.1:${ports.identity.http}`,
        SANDBOX_URL: sandbox.url,
        SETTLEMENT_DATABASE_URL: dbs.settlement,
      },
      log: (line) => {
        // the load begins once the city is built: CPU is counted from here
        if (/^city \S+ built in/.test(line)) atLoad = usage();
        note(`simulator: ${line}`);
      },
      write: (text) => void process.stderr.write(text),
      tty: false,
    },
  );
  const atEnd = usage();
  const figures: Figure[] = [
    {
      name: 'city_ops_per_s',
      value: report.opsPerSecond,
      unit: 'operations/s',
      how: `simulator at ${p.rate} ops/s (open loop, at most 64 in flight) for ${p.seconds}s: operations answered (ok + refused) / load seconds`,
    },
    { name: 'city_ops_ok', value: report.totals.ok, unit: 'operations', how: 'finished ok' },
    {
      name: 'city_ops_failed',
      value: report.totals.failed,
      unit: 'operations',
      how: 'errors (timeouts included)',
    },
    {
      name: 'city_ops_skipped',
      value: report.totals.skipped,
      unit: 'operations',
      how: 'due but not started: 64 already in flight (the city behind the target rate)',
    },
    {
      name: 'city_invariants_hold',
      value: report.ok ? 1 : 0,
      unit: 'bool',
      how:
        report.invariants
          .filter((i) => !i.ok)
          .map((i) => `${i.name}: ${i.detail}`)
          .join('; ') || 'all held',
    },
  ];
  for (const name of SERVICES) {
    const before = atLoad?.[name] ?? { cpu_s: 0, peak_rss_mb: 0 };
    const cpu = atEnd[name]!.cpu_s - before.cpu_s;
    figures.push({
      name: `${name}_cpu_percent`,
      value: round((cpu / Math.max(report.loadSeconds, 1)) * 100, 1),
      unit: '% of a core',
      how: `CPU seconds (/proc utime+stime) during the load / load seconds`,
    });
    figures.push({
      name: `${name}_peak_rss_mb`,
      value: atEnd[name]!.peak_rss_mb,
      unit: 'MB',
      how: 'VmHWM at the end of the run',
    });
  }
  figures.push(pgbenchFigure(pg, baseline));
  printBenchmarkFigures('city', started, figures);
  process.stdout.write(`\nper operation: ${JSON.stringify(report.ops)}\n`);
  await writeBenchReport(
    'city',
    started,
    figureValues(figures),
    { ...p, ...pgbenchReportParams(pg), report },
    atEnd,
  );
}
