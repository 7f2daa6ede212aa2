import { ChildProcess, execFileSync, spawn } from 'child_process';
import { createHash, randomBytes } from 'crypto';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'fs';
import { createServer } from 'net';
import { tmpdir } from 'os';
import { join, resolve } from 'path';
import { Client, Pool } from 'pg';
import { MigrationSource, readMigrations, runMigrations } from '../db/migrations';

export const REPO_ROOT = resolve(__dirname, '../../../..');

/** Endpoints of the real servers under test: from the environment, else the local defaults. */
export const testEndpoints = {
  postgresAdminUrl: (): string =>
    process.env.TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres',
  kafkaBrokers: (): string[] =>
    (process.env.KAFKA_BROKERS ?? '127.0.0.1:9092').split(',').map((b) => b.trim()),
  redisUrl: (): string => process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
  mqttUrl: (): string => process.env.MQTT_URL ?? 'mqtt://127.0.0.1:1883',
  /** The project's own Mosquitto for iot devices (deploy/local/mosquitto.sh), dynamic security on. */
  iotMqttUrl: (): string => process.env.IOT_MQTT_URL ?? 'mqtt://127.0.0.1:1885',
  /** Its dynamic-security admin account: IOT_MQTT_ADMIN_PASSWORD, else the one mosquitto.sh keeps. */
  iotMqttAdmin: (): { username: string; password: string } => ({
    username: process.env.IOT_MQTT_ADMIN_USERNAME ?? 'citybase-admin',
    password: (iotMqttAdminPassword ??=
      process.env.IOT_MQTT_ADMIN_PASSWORD ??
      execFileSync('bash', [join(REPO_ROOT, 'deploy/local/mosquitto.sh'), 'admin-password'], {
        encoding: 'utf8',
      }).trim()),
  }),
};
let iotMqttAdminPassword: string | undefined;

/** A name no other suite, run or process uses: topics, consumer groups, databases. */
export function uniqueName(prefix: string): string {
  return `${prefix}-${process.pid}-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
}

/**
 * iot's own topic root, broker account and client id on the shared project Mosquitto, for one iot
 * (or one suite's iots: pass the same `root` again, e.g. for a restart that must resume the broker
 * session). Without them every iot is `citybase-iot` under `city/`, one shared-subscription group,
 * so one suite's device messages reach another suite's iot (which drops them as unknown devices),
 * and each iot resetting the same account's password disconnects the others.
 */
export function iotMqttEnv(label: string, root = iotTopicRoot(label)): Record<string, string> {
  return {
    IOT_MQTT_TOPIC_ROOT: root,
    IOT_MQTT_SERVICE_USERNAME: `iot-${root}`,
    IOT_MQTT_CLIENT_ID: `iot-${root}`,
  };
}

/** A topic root no other suite uses (letters and digits). */
export function iotTopicRoot(label: string): string {
  return `t${label.replace(/[^a-z0-9]/gi, '').slice(0, 12)}${randomBytes(4).toString('hex')}`;
}

/**
 * A Kafka namespace of one suite: a unique prefix (ending in ".") for its topics
 * (KAFKA_TOPIC_PREFIX) and consumer groups. Integration suites run in jest-int-environment.js,
 * which deletes every topic and consumer group named with it once the suite is over.
 */
export function kafkaTestPrefix(label: string): string {
  const prefix = `${uniqueName(label)}.`;
  const suite = globalThis as { __citybaseKafkaPrefixes?: string[] };
  (suite.__citybaseKafkaPrefixes ??= []).push(prefix);
  return prefix;
}

export interface TestDatabase {
  name: string;
  url: string;
  drop(): Promise<void>;
}

/**
 * A throwaway database for one suite, so suites can run in parallel without seeing each other:
 * empty, or a copy of `template`.
 */
export async function createTestDatabase(label: string, template?: string): Promise<TestDatabase> {
  const name = uniqueName(`t_${label}`)
    .replace(/[^a-z0-9_]/gi, '_')
    .toLowerCase()
    .slice(0, 63);
  const adminUrl = testEndpoints.postgresAdminUrl();
  const admin = new Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE "${name}"${template ? ` TEMPLATE "${template}"` : ''}`);
    // Tests only: commits need not wait for the WAL flush (crash durability is not under test here).
    await admin.query(`ALTER DATABASE "${name}" SET synchronous_commit = off`);
  } finally {
    await admin.end();
  }
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return {
    name,
    url: url.toString(),
    async drop() {
      const c = new Client({ connectionString: adminUrl });
      await c.connect();
      try {
        await c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      } finally {
        await c.end();
      }
    },
  };
}

export interface ServiceDatabase extends TestDatabase {
  /** The migrated template database it was copied from. */
  template: string;
}

/**
 * A throwaway database for one suite, already migrated: a copy (CREATE DATABASE ... TEMPLATE) of
 * a template database named after the service and a hash of its migration files, which the first
 * suite to need it creates and migrates. Later suites, runs and Jest processes only copy it; a
 * change to any migration names a new template. Concurrent creators serialize on an advisory lock.
 */
export async function createServiceDatabase(
  label: string,
  migrations: readonly MigrationSource[],
): Promise<ServiceDatabase> {
  const template = await migratedTemplate(migrations);
  const db = await createTestDatabase(label, template);
  return { ...db, template };
}

/** The name of the migrated template of a set of migrations: tpl_<service>_<12 hex>. */
export function templateName(migrations: readonly MigrationSource[]): string {
  const hash = createHash('sha256');
  for (const source of migrations) {
    for (const m of readMigrations(source))
      hash.update(`${m.namespace}/${m.version}_${m.name}:${m.checksum}\n`);
  }
  const service = (migrations[migrations.length - 1]?.namespace ?? 'none').replace(/[^a-z0-9_]/gi, '_');
  return `tpl_${service.toLowerCase()}_${hash.digest('hex').slice(0, 12)}`.slice(0, 63);
}

async function migratedTemplate(migrations: readonly MigrationSource[]): Promise<string> {
  const name = templateName(migrations);
  const adminUrl = testEndpoints.postgresAdminUrl();
  const admin = new Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    // one creator per template across Jest processes; the others wait, then find it ready
    await admin.query('SELECT pg_advisory_lock(hashtext($1))', [`citybase-template:${name}`]);
    const { rows } = await admin.query<{ datistemplate: boolean }>(
      'SELECT datistemplate FROM pg_database WHERE datname = $1',
      [name],
    );
    if (rows[0]?.datistemplate) return name;
    // absent, or left half-migrated by a creator that died: (re)build it
    await admin.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
    await admin.query(`CREATE DATABASE "${name}"`);
    const url = new URL(adminUrl);
    url.pathname = `/${name}`;
    const pool = new Pool({ connectionString: url.toString(), max: 1 });
    try {
      await runMigrations(pool, migrations);
    } finally {
      await pool.end();
    }
    // marked ready only once migrated; nobody may connect to it, so copying it never waits
    await admin.query(`ALTER DATABASE "${name}" WITH IS_TEMPLATE true ALLOW_CONNECTIONS false`);
    return name;
  } finally {
    await admin.end();
  }
}

/**
 * Ports for the servers tests start (services, the sandbox channel, receivers). They come from
 * 20000-32767: below the kernel's ephemeral range (32768-60999), so no outgoing connection (to
 * PostgreSQL, Kafka, ...) can take one between its choice and its bind, and clear of the local
 * city's fixed ports (deploy/local/start.sh: gRPC 50051-50057, HTTP 8081-8087, sandbox 8090, Kafka
 * 9092, the chaos suite's private broker 19092, the 3-node cluster 19192-19194 and 19292-19294). Test processes run side by side (integration
 * projects in parallel with the end-to-end suite), so each port is also claimed in a directory
 * every process on the machine shares: `mkdir` is atomic, so two processes never get the same port.
 * A claim is released when its process exits; a claim whose process is gone is taken over.
 */
const PORT_RANGE = { from: 20_000, to: 32_767 } as const;
const PORT_CLAIMS = join(tmpdir(), 'citybase-test-ports');
const claimedHere = new Set<number>();

function claimPort(port: number): boolean {
  const dir = join(PORT_CLAIMS, String(port));
  try {
    mkdirSync(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    // no pid yet: its claimer is between mkdir and writing it; a pid of a process that is gone: stale
    const owner = Number(readFileIfExists(join(dir, 'pid')));
    if (owner > 0 && !processAlive(owner)) rmSync(dir, { recursive: true, force: true });
    return false;
  }
  writeFileSync(join(dir, 'pid'), String(process.pid));
  if (claimedHere.size === 0)
    process.once('exit', () => {
      for (const p of claimedHere) rmSync(join(PORT_CLAIMS, String(p)), { recursive: true, force: true });
    });
  claimedHere.add(port);
  return true;
}

function readFileIfExists(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function bindable(port: number): Promise<boolean> {
  return new Promise((resolveBindable) => {
    const srv = createServer();
    srv.once('error', () => resolveBindable(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolveBindable(true)));
  });
}

/** A TCP port no other test process on this machine has, free when chosen, kept until this process exits. */
export async function freePort(): Promise<number> {
  mkdirSync(PORT_CLAIMS, { recursive: true });
  for (;;) {
    const port = PORT_RANGE.from + Math.floor(Math.random() * (PORT_RANGE.to - PORT_RANGE.from + 1));
    if (claimedHere.has(port) || !claimPort(port)) continue;
    if (await bindable(port)) return port;
  }
}

export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  timeoutMs = 30_000,
  everyMs = 100,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (err) {
      lastError = err;
    }
    await new Promise((r) => setTimeout(r, everyMs));
  }
  throw new Error(
    `timed out after ${timeoutMs}ms waiting for ${what}${lastError ? `: ${(lastError as Error).message}` : ''}`,
  );
}

/**
 * A service under test, whether spawned as its own process (spawnService) or started inside the
 * Jest process (startInProcess): what the harnesses and suites use of it.
 */
export interface ServiceUnderTest {
  grpcAddress: string;
  httpUrl: string;
  /** Everything the service logged (and, for a process, wrote), for assertions and failure messages. */
  output(): string;
  /** Resolves once /readyz answers 200; fails at once, with the output, if the service ends first. */
  ready(timeoutMs?: number): Promise<void>;
  /** Stops the service and everything it holds open; safe to call twice. */
  stop(): Promise<unknown>;
}

export interface ServiceProcess extends ServiceUnderTest {
  proc: ChildProcess;
  /** Sends the signal and resolves with the exit code (or the signal name). */
  stop(signal?: NodeJS.Signals, timeoutMs?: number): Promise<number | string>;
}

/** Env of a service under test given its ports, as key=value pairs of its configuration. */
export type ServiceEnv =
  Record<string, string> | ((ports: { grpcPort: number; httpPort: number }) => Record<string, string>);

/** The two ports a service listens on. */
export interface ServicePorts {
  grpcPort: number;
  httpPort: number;
}

/** Fresh ports for a service (freePort). */
export async function freeServicePorts(): Promise<ServicePorts> {
  return { grpcPort: await freePort(), httpPort: await freePort() };
}

/**
 * The configuration every service under test gets, on `ports` (default fresh ones): the local
 * servers, CITY_ID test-city (what TestIssuer tokens carry), the test keys; then `env` on top.
 */
export async function serviceTestEnv(
  env: ServiceEnv,
  ports?: ServicePorts,
): Promise<{ grpcPort: number; httpPort: number; env: Record<string, string> }> {
  const { grpcPort, httpPort } = ports ?? (await freeServicePorts());
  const extraEnv = typeof env === 'function' ? env({ grpcPort, httpPort }) : env;
  return {
    grpcPort,
    httpPort,
    env: {
      GRPC_PORT: String(grpcPort),
      HTTP_PORT: String(httpPort),
      KAFKA_BROKERS: testEndpoints.kafkaBrokers().join(','),
      REDIS_URL: testEndpoints.redisUrl(),
      MQTT_URL: testEndpoints.mqttUrl(),
      IOT_MQTT_URL: testEndpoints.iotMqttUrl(),
      IOT_MQTT_ADMIN_USERNAME: testEndpoints.iotMqttAdmin().username,
      IOT_MQTT_ADMIN_PASSWORD: testEndpoints.iotMqttAdmin().password,
      LOG_LEVEL: 'info',
      CITY_ID: 'test-city',
      IDENTITY_MASTER_KEY: TEST_IDENTITY_MASTER_KEY,
      PAYMENT_PUBLIC_URL: `http://127.0.0.1:${httpPort}`,
      PAYMENT_CREDENTIALS_KEY: TEST_PAYMENT_CREDENTIALS_KEY,
      DATA_SIGNING_KEY: TEST_DATA_SIGNING_KEY,
      // iot's topics, broker user and session of this process alone unless the test shares them: a
      // process on the default root would join the shared subscriptions of `npm start`'s iot (and a
      // killed one's session would take its share of their messages)
      ...iotMqttEnv('svc'),
      ...extraEnv,
    },
  };
}

/**
 * Polls `${httpUrl}/readyz` until it answers 200. `ended` says whether the service is gone (then
 * it throws at once, with `why()`).
 */
export async function waitReady(
  httpUrl: string,
  ended: () => boolean,
  why: () => string,
  timeoutMs: number,
): Promise<void> {
  const state = await waitFor(
    `${httpUrl}/readyz`,
    async () => {
      if (ended()) return 'ended';
      const res = await fetch(`${httpUrl}/readyz`).catch(() => undefined);
      return res?.status === 200 ? 'ready' : undefined;
    },
    timeoutMs,
    200,
  );
  if (state === 'ended') throw new Error(why());
}

/** A fixed IDENTITY_MASTER_KEY for tests (base64 of 32 bytes); never use it outside tests. */
export const TEST_IDENTITY_MASTER_KEY = Buffer.alloc(32, 7).toString('base64');
/** A fixed PAYMENT_CREDENTIALS_KEY for tests; never use it outside tests. */
export const TEST_PAYMENT_CREDENTIALS_KEY = Buffer.alloc(32, 9).toString('base64');
/** A fixed DATA_SIGNING_KEY (the access log's Ed25519 seed) for tests; never use it outside tests. */
export const TEST_DATA_SIGNING_KEY = Buffer.alloc(32, 11).toString('base64');

/**
 * Starts a built service (services/<name>/dist/main.js) as its own process, on fresh ports (or
 * `opts.ports`, e.g. those of a replica killed before), with CITY_ID=test-city (what TestIssuer
 * tokens carry). `env` may be a function of the chosen ports, e.g. to point identity's
 * AUTH_JWKS_URL at its own HTTP port.
 */
export async function spawnService(
  name: string,
  env: ServiceEnv,
  opts: {
    /** Options of node itself, e.g. --cpu-prof. */ nodeArgs?: string[];
    ports?: ServicePorts;
  } = {},
): Promise<ServiceProcess> {
  const { grpcPort, httpPort, env: serviceEnv } = await serviceTestEnv(env, opts.ports);
  const main = join(REPO_ROOT, 'services', name, 'dist', 'main.js');
  const proc = spawn(process.execPath, [...(opts.nodeArgs ?? []), main], {
    env: { PATH: process.env.PATH ?? '', ...serviceEnv },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  proc.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  const httpUrl = `http://127.0.0.1:${httpPort}`;
  const exited = new Promise<number | string>((r) =>
    proc.once('exit', (code, sig) => r(code ?? sig ?? 'unknown')),
  );
  return {
    proc,
    grpcAddress: `127.0.0.1:${grpcPort}`,
    httpUrl,
    output: () => out,
    ready: (timeoutMs = 90_000) =>
      waitReady(
        httpUrl,
        () => proc.exitCode !== null,
        () => `${name} exited ${proc.exitCode} before it was ready:\n${out.slice(-3000)}`,
        timeoutMs,
      ),
    async stop(signal = 'SIGTERM', timeoutMs = 20_000) {
      if (proc.exitCode !== null || proc.signalCode !== null) return exited;
      proc.kill(signal);
      const timer = setTimeout(() => proc.kill('SIGKILL'), timeoutMs);
      try {
        return await exited;
      } finally {
        clearTimeout(timer);
      }
    },
  };
}
