import { randomBytes } from 'node:crypto';
import { status } from '@grpc/grpc-js';
import {
  createTestDatabase,
  ServiceProcess,
  spawnService,
  TestDatabase,
  TestIssuer,
} from '@citybase/platform/testing';

export interface ServiceSetup {
  db: TestDatabase;
  /** KAFKA_TOPIC_PREFIX: services with the same prefix consume each other's events. */
  kafkaPrefix: string;
  /** Its tokens are the ones the service accepts (AUTH_JWKS_URL). */
  issuer: TestIssuer;
  /** LOG_LEVEL (default warn). */
  logLevel?: string;
  /** More environment, e.g. shorter intervals of background jobs. */
  env?: Record<string, string>;
}

/**
 * iot's own topics and broker account on the shared project Mosquitto: without them every iot of
 * every suite is `citybase-iot` under `city/`, one shared-subscription group, so one suite's device
 * messages reach another suite's iot (which drops them as unknown devices), and each iot resetting
 * the same account's password disconnects the others.
 */
export function iotMqttEnv(label: string): Record<string, string> {
  const root = `e${label.replace(/[^a-z0-9]/gi, '').slice(0, 12)}${randomBytes(4).toString('hex')}`;
  return {
    IOT_MQTT_TOPIC_ROOT: root,
    IOT_MQTT_SERVICE_USERNAME: `iot-${root}`,
    IOT_MQTT_CLIENT_ID: `iot-${root}`,
  };
}

/** Spawns a built service as its own process on its database (not yet ready). */
function spawnOn(name: string, setup: ServiceSetup): Promise<ServiceProcess> {
  return spawnService(name, {
    DATABASE_URL: setup.db.url,
    KAFKA_TOPIC_PREFIX: setup.kafkaPrefix,
    AUTH_JWKS_URL: setup.issuer.jwksUrl,
    LOG_LEVEL: setup.logLevel ?? 'warn',
    ...setup.env,
  });
}

/** Starts a built service as its own process on its database, and waits until it is ready. */
export async function spawnReadyService(name: string, setup: ServiceSetup): Promise<ServiceProcess> {
  const proc = await spawnOn(name, setup);
  await proc.ready();
  return proc;
}

/**
 * Several services, each a process on a database of its own. What `start` created so far is in
 * `dbs` and `procs`, so `stop` cleans up after a start that failed half-way too.
 */
export class ServiceFleet {
  readonly dbs = new Map<string, TestDatabase>();
  readonly procs = new Map<string, ServiceProcess>();

  constructor(
    private readonly setup: {
      /** Prefix of the databases' names. */
      label: string;
      issuer: TestIssuer;
      kafkaPrefix: (service: string) => string;
      logLevel: string;
    },
  ) {}

  async start(names: readonly string[]): Promise<void> {
    const { label, issuer, kafkaPrefix, logLevel } = this.setup;
    await Promise.all(
      names.map(async (name) => {
        const db = await createTestDatabase(`${label}_${name}`);
        this.dbs.set(name, db);
        const env = name === 'iot' ? iotMqttEnv(label) : {};
        this.procs.set(
          name,
          await spawnOn(name, { db, kafkaPrefix: kafkaPrefix(name), issuer, logLevel, env }),
        );
      }),
    );
    await Promise.all([...this.procs.values()].map((p) => p.ready()));
  }

  /** The gRPC address of a running service. */
  address(name: string): string {
    const proc = this.procs.get(name);
    if (!proc) throw new Error(`${name} is not running`);
    return proc.grpcAddress;
  }

  async stop(): Promise<void> {
    await Promise.all([...this.procs.values()].map((p) => p.stop()));
    await Promise.all([...this.dbs.values()].map((d) => d.drop()));
  }
}

/** How a call to a process that is down or restarting fails: worth making again. */
const WHILE_RESTARTING: ReadonlySet<number> = new Set([
  status.UNAVAILABLE,
  status.CANCELLED,
  status.INTERNAL,
]);

/**
 * Makes a call on a fresh client from `open` (closed afterwards) until it succeeds: again, the same
 * request, 200 ms after a failure that says the server is down or restarting, or that `alsoRetry`
 * accepts (like a scenario app would); any other failure is thrown.
 */
export async function callWhileRestarting<C extends { close(): void }, T>(
  open: () => C,
  call: (client: C) => Promise<T>,
  options: { alsoRetry?: (err: { code?: number; details?: string }) => boolean; onRetry?: () => void } = {},
): Promise<T> {
  for (;;) {
    const client = open();
    try {
      return await call(client);
    } catch (err) {
      const failure = err as { code?: number; details?: string };
      if (!WHILE_RESTARTING.has(failure.code ?? -1) && !options.alsoRetry?.(failure)) throw err;
      options.onRetry?.();
      await new Promise((r) => setTimeout(r, 200));
    } finally {
      client.close();
    }
  }
}
