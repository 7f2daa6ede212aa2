import { execFile, execFileSync } from 'child_process';
import { promisify } from 'util';
import { join } from 'path';
import { REPO_ROOT } from '@citybase/platform/testing';

/**
 * A second, private Kafka broker (same jars, own ports and data folder) for tests that stop and
 * start the broker, so they never disturb the shared one other suites use.
 */
export class PrivateKafkaBroker {
  constructor(
    readonly port: number,
    private readonly dir = join(REPO_ROOT, '.local', `kafka-${port}`),
  ) {}

  get brokers(): string {
    return `127.0.0.1:${this.port}`;
  }

  private run(cmd: 'start' | 'stop' | 'reset'): void {
    execFileSync('bash', [join(REPO_ROOT, 'deploy/local/kafka.sh'), cmd], {
      env: {
        ...process.env,
        KAFKA_PORT: String(this.port),
        KAFKA_CONTROLLER_PORT: String(this.port + 1),
        CITYBASE_LOCAL_DIR: this.dir,
        KAFKA_LIB_DIR: join(REPO_ROOT, '.local', 'kafka', 'lib'),
        KAFKA_HEAP: '384m',
      },
      stdio: ['ignore', 'ignore', 'inherit'],
      timeout: 180_000,
    });
  }

  start(): void {
    this.run('start');
  }

  stop(): void {
    this.run('stop');
  }

  /** Stops the broker and deletes its data. */
  destroy(): void {
    this.run('reset');
  }
}

/**
 * The local 3-node Kafka cluster (`deploy/local/kafka.sh cluster`: KRaft, every node broker and
 * controller, replication factor 3, min in-sync replicas 2) on its own ports and data folder, for
 * tests that kill one node while the city runs.
 */
export class KafkaCluster {
  static readonly NODES = [1, 2, 3] as const;

  constructor(
    /** Brokers listen on basePort..basePort+2, controllers on basePort+100..basePort+102. */
    readonly basePort = 19192,
    private readonly dir = join(REPO_ROOT, '.local', `kafka-cluster-${basePort}`),
  ) {}

  get brokers(): string {
    return KafkaCluster.NODES.map((n) => `127.0.0.1:${this.basePort + n - 1}`).join(',');
  }

  /** Runs `kafka.sh cluster ...` (asynchronously: the load of a test goes on meanwhile). */
  private async run(...args: string[]): Promise<string> {
    const { stdout } = await promisify(execFile)(
      'bash',
      [join(REPO_ROOT, 'deploy/local/kafka.sh'), 'cluster', ...args],
      {
        env: {
          ...process.env,
          KAFKA_CLUSTER_BASE_PORT: String(this.basePort),
          KAFKA_CLUSTER_DIR: this.dir,
          KAFKA_LIB_DIR: join(REPO_ROOT, '.local', 'kafka', 'lib'),
          KAFKA_HEAP: '384m',
        },
        encoding: 'utf8',
        timeout: 240_000,
      },
    );
    return stdout;
  }

  /** Formats (first time) and starts the three nodes; resolves once each is ready. */
  async start(): Promise<void> {
    await this.run('start');
  }

  /** The node ids that run now. */
  async running(): Promise<number[]> {
    const up: number[] = [];
    for (const n of KafkaCluster.NODES) if (await this.run('pid', String(n)).catch(() => '')) up.push(n);
    return up;
  }

  /** SIGKILLs node `n` (no shutdown: what a machine dying looks like); resolves once it is gone. */
  async kill(n: number): Promise<void> {
    const pid = Number((await this.run('pid', String(n))).trim());
    process.kill(pid, 'SIGKILL');
    for (;;) {
      try {
        process.kill(pid, 0);
      } catch {
        return;
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** Starts node `n` again on its data; resolves once it is ready. */
  async startNode(n: number): Promise<void> {
    await this.run('start-node', String(n));
  }

  /** Stops the nodes and deletes their data. */
  async destroy(): Promise<void> {
    await this.run('reset');
  }
}
