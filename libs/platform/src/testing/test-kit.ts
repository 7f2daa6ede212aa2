import { ChildProcess, spawn } from 'child_process';
import { randomBytes } from 'crypto';
import { createServer } from 'net';
import { join, resolve } from 'path';
import { Client } from 'pg';

export const REPO_ROOT = resolve(__dirname, '../../../..');

/** Endpoints of the real servers under test: from the environment, else the local defaults. */
export const testEndpoints = {
  postgresAdminUrl: (): string =>
    process.env.TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres',
  kafkaBrokers: (): string[] =>
    (process.env.KAFKA_BROKERS ?? '127.0.0.1:9092').split(',').map((b) => b.trim()),
  redisUrl: (): string => process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
  mqttUrl: (): string => process.env.MQTT_URL ?? 'mqtt://127.0.0.1:1883',
};

/** A name no other suite, run or process uses: topics, consumer groups, databases. */
export function uniqueName(prefix: string): string {
  return `${prefix}-${process.pid}-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
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

/** A throwaway database for one suite, so suites can run in parallel without seeing each other. */
export async function createTestDatabase(label: string): Promise<TestDatabase> {
  const name = uniqueName(`t_${label}`)
    .replace(/[^a-z0-9_]/gi, '_')
    .toLowerCase()
    .slice(0, 63);
  const adminUrl = testEndpoints.postgresAdminUrl();
  const admin = new Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE "${name}"`);
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

/**
 * Fixed ports of the local city (deploy/local/start.sh: gRPC 50051-50057, HTTP 8081-8087, sandbox
 * 8090), Kafka (9092) and the chaos suite's private broker (19092). Integration projects run side
 * by side with `npm start`'s end-to-end test, so a port the OS picks must not be one of them.
 */
const RESERVED_PORTS = new Set([
  ...[50051, 50052, 50053, 50054, 50055, 50056, 50057],
  ...[8081, 8082, 8083, 8084, 8085, 8086, 8087, 8090],
  ...[9092, 19092],
]);

/** A TCP port that was free a moment ago (the OS picked it), never one of RESERVED_PORTS. */
export async function freePort(): Promise<number> {
  for (;;) {
    const port = await new Promise<number>((resolvePort, reject) => {
      const srv = createServer();
      srv.once('error', reject);
      srv.listen(0, '127.0.0.1', () => {
        const address = srv.address();
        const chosen = typeof address === 'object' && address ? address.port : 0;
        srv.close(() => resolvePort(chosen));
      });
    });
    if (!RESERVED_PORTS.has(port)) return port;
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

export interface ServiceProcess {
  proc: ChildProcess;
  grpcAddress: string;
  httpUrl: string;
  /** Everything the process wrote, for assertions and for failure messages. */
  output(): string;
  /** Resolves once /readyz answers 200; fails at once, with the process output, if it exits first. */
  ready(timeoutMs?: number): Promise<void>;
  /** Sends the signal and resolves with the exit code (or the signal name). */
  stop(signal?: NodeJS.Signals, timeoutMs?: number): Promise<number | string>;
}

/** A fixed IDENTITY_MASTER_KEY for tests (base64 of 32 bytes); never use it outside tests. */
export const TEST_IDENTITY_MASTER_KEY = Buffer.alloc(32, 7).toString('base64');
/** A fixed PAYMENT_CREDENTIALS_KEY for tests; never use it outside tests. */
export const TEST_PAYMENT_CREDENTIALS_KEY = Buffer.alloc(32, 9).toString('base64');

/**
 * Starts a built service (services/<name>/dist/main.js) as its own process, on fresh ports, with
 * CITY_ID=test-city (what TestIssuer tokens carry). `env` may be a function of the chosen ports,
 * e.g. to point identity's AUTH_JWKS_URL at its own HTTP port.
 */
export async function spawnService(
  name: string,
  env: Record<string, string> | ((ports: { grpcPort: number; httpPort: number }) => Record<string, string>),
): Promise<ServiceProcess> {
  const grpcPort = await freePort();
  const httpPort = await freePort();
  const extraEnv = typeof env === 'function' ? env({ grpcPort, httpPort }) : env;
  const proc = spawn(process.execPath, [join(REPO_ROOT, 'services', name, 'dist', 'main.js')], {
    env: {
      PATH: process.env.PATH ?? '',
      GRPC_PORT: String(grpcPort),
      HTTP_PORT: String(httpPort),
      KAFKA_BROKERS: testEndpoints.kafkaBrokers().join(','),
      REDIS_URL: testEndpoints.redisUrl(),
      MQTT_URL: testEndpoints.mqttUrl(),
      LOG_LEVEL: 'info',
      CITY_ID: 'test-city',
      IDENTITY_MASTER_KEY: TEST_IDENTITY_MASTER_KEY,
      PAYMENT_CREDENTIALS_KEY: TEST_PAYMENT_CREDENTIALS_KEY,
      PAYMENT_PUBLIC_URL: `http://127.0.0.1:${httpPort}`,
      ...extraEnv,
    },
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
    async ready(timeoutMs = 90_000) {
      const state = await waitFor(
        `${httpUrl}/readyz`,
        async () => {
          if (proc.exitCode !== null) return 'exited';
          const res = await fetch(`${httpUrl}/readyz`).catch(() => undefined);
          return res?.status === 200 ? 'ready' : undefined;
        },
        timeoutMs,
        200,
      );
      if (state === 'exited')
        throw new Error(`${name} exited ${proc.exitCode} before it was ready:\n${out.slice(-3000)}`);
    },
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
