import { status } from '@grpc/grpc-js';
import {
  createTestDatabase,
  freeServicePorts,
  iotMqttEnv,
  ServicePorts,
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

/** Spawns a built service as its own process on its database (not yet ready), on `ports` if given. */
function spawnOn(name: string, setup: ServiceSetup, ports?: ServicePorts): Promise<ServiceProcess> {
  return spawnService(
    name,
    {
      DATABASE_URL: setup.db.url,
      KAFKA_TOPIC_PREFIX: setup.kafkaPrefix,
      AUTH_JWKS_URL: setup.issuer.jwksUrl,
      LOG_LEVEL: setup.logLevel ?? 'warn',
      ...setup.env,
    },
    { ports },
  );
}

/** Starts a built service as its own process on its database, and waits until it is ready. */
export async function spawnReadyService(name: string, setup: ServiceSetup): Promise<ServiceProcess> {
  const proc = await spawnOn(name, setup);
  await proc.ready();
  return proc;
}

/** One process of a fleet's service: its replica number and its (fixed) ports. */
interface Replica {
  ports: ServicePorts;
  proc: ServiceProcess;
  /** What the replica's earlier processes (SIGKILLed by killAndRestart) logged. */
  killedOutput: string[];
}

/**
 * Several services, each on a database of its own, each as `replicas` processes (default 1) on
 * their own ports: the replicas of a service share its database, Kafka namespace (so its consumer
 * groups) and iot's broker account and topic root, as replicas on several machines would. What
 * `start` created so far is in `dbs` and the replicas, so `stop` cleans up after a start that
 * failed half-way too.
 */
export class ServiceFleet {
  readonly dbs = new Map<string, TestDatabase>();
  private readonly replicaSets = new Map<string, Replica[]>();
  private readonly setups = new Map<string, ServiceSetup>();
  private readonly plannedPorts = new Map<string, ServicePorts[]>();

  constructor(
    private readonly setup: {
      /** Prefix of the databases' names. */
      label: string;
      issuer: TestIssuer;
      kafkaPrefix: (service: string) => string;
      logLevel: string;
      /** Processes per service (default 1). */
      replicas?: number;
      /**
       * More environment of every process of a service, e.g. KAFKA_BROKERS of another cluster;
       * `replica` is the process's number and ports, and `target` (below) already names every
       * replica of the services of the same `start` call.
       */
      env?: (service: string, replica: { index: number; ports: ServicePorts }) => Record<string, string>;
      /** How long a process may take to be ready (default ServiceProcess.ready's). */
      readyTimeoutMs?: number;
    },
  ) {}

  /** The first process of each running service. */
  get procs(): Map<string, ServiceProcess> {
    return new Map([...this.replicaSets].map(([name, set]) => [name, set[0]!.proc]));
  }

  /** Every process of a service, replica 0 first. */
  replicas(name: string): ServiceProcess[] {
    return (this.replicaSets.get(name) ?? []).map((r) => r.proc);
  }

  /** Everything every process of a service logged, killed ones included, replica by replica. */
  logs(name: string): string {
    return (this.replicaSets.get(name) ?? [])
      .map((r, i) =>
        [...r.killedOutput, r.proc.output()]
          .map((out, n) => `--- ${name} replica ${i} process ${n}:\n${out}`)
          .join('\n'),
      )
      .join('\n');
  }

  async start(names: readonly string[]): Promise<void> {
    const { label, issuer, kafkaPrefix, logLevel, replicas = 1 } = this.setup;
    // every replica's ports first, so each process's environment may name all of them (`target`)
    const taken = new Set([...this.plannedPorts.values()].flat().flatMap((p) => [p.grpcPort, p.httpPort]));
    for (const name of names) {
      const list: ServicePorts[] = [];
      while (list.length < replicas) {
        const ports = await freeServicePorts();
        if (taken.has(ports.grpcPort) || taken.has(ports.httpPort) || ports.grpcPort === ports.httpPort)
          continue;
        taken.add(ports.grpcPort).add(ports.httpPort);
        list.push(ports);
      }
      this.plannedPorts.set(name, list);
    }
    await Promise.all(
      names.map(async (name) => {
        const db = await createTestDatabase(`${label}_${name}`);
        this.dbs.set(name, db);
        const env = name === 'iot' ? iotMqttEnv(label) : {};
        const setup: ServiceSetup = { db, kafkaPrefix: kafkaPrefix(name), issuer, logLevel, env };
        this.setups.set(name, setup);
        const set: Replica[] = [];
        this.replicaSets.set(name, set);
        // the first replica alone migrates the database; the others start on a migrated one
        for (let i = 0; i < replicas; i++) {
          const ports = this.plannedPorts.get(name)![i]!;
          const proc = await spawnOn(name, this.replicaEnv(name, i), ports);
          set.push({ ports, proc, killedOutput: [] });
          if (i === 0 && replicas > 1) await this.ready(name, proc);
        }
      }),
    );
    await Promise.all(
      [...this.replicaSets].flatMap(([name, set]) => set.map((r) => this.ready(name, r.proc))),
    );
  }

  /** Waits until a process is ready; a timeout says what it logged. */
  private async ready(name: string, proc: ServiceProcess): Promise<void> {
    try {
      await proc.ready(this.setup.readyTimeoutMs);
    } catch (err) {
      const out = proc.output().slice(-3000);
      throw new Error(`${name} (${proc.grpcAddress}): ${(err as Error).message}\n${out}`);
    }
  }

  /** Replica i's setup: the fleet's env for it; iot's replicas each need their own MQTT client id. */
  private replicaEnv(name: string, i: number): ServiceSetup {
    const setup = this.setups.get(name)!;
    const env = {
      ...setup.env,
      ...this.setup.env?.(name, { index: i, ports: this.plannedPorts.get(name)![i]! }),
    };
    const clientId = env.IOT_MQTT_CLIENT_ID;
    if (clientId && i > 0) env.IOT_MQTT_CLIENT_ID = `${clientId}-${i}`;
    return { ...setup, env };
  }

  /**
   * Every replica of a service as one gRPC target, `ipv4:host:port,host:port` (grpc-js fails over
   * between them; the simulator takes turns and fails over too): what a caller of the service is
   * given, as deploy/local/start.sh --replicas gives it.
   */
  target(name: string): string {
    const ports = this.plannedPorts.get(name);
    if (!ports) throw new Error(`${name} has no ports yet`);
    return `ipv4:${ports.map((p) => `127.0.0.1:${p.grpcPort}`).join(',')}`;
  }

  /** The HTTP base URL of every replica of a service, replica 0 first. */
  httpUrls(name: string): string[] {
    return (this.plannedPorts.get(name) ?? []).map((p) => `http://127.0.0.1:${p.httpPort}`);
  }

  /**
   * SIGKILLs replica i of a service (no shutdown: a machine dying), starts it again on the same
   * ports and waits until it is ready.
   */
  async killAndRestart(name: string, i: number): Promise<void> {
    const replica = this.replicaSets.get(name)?.[i];
    if (!replica) throw new Error(`${name} has no replica ${i}`);
    await replica.proc.stop('SIGKILL');
    replica.killedOutput.push(replica.proc.output());
    replica.proc = await spawnOn(name, this.replicaEnv(name, i), replica.ports);
    await this.ready(name, replica.proc);
  }

  /** The gRPC address of a running service: its first replica's. */
  address(name: string): string {
    const set = this.replicaSets.get(name);
    if (!set) throw new Error(`${name} is not running`);
    return set[0]!.proc.grpcAddress;
  }

  async stop(): Promise<void> {
    await Promise.all([...this.replicaSets.values()].flat().map((r) => r.proc.stop()));
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
