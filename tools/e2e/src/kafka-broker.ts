import { execFileSync } from 'child_process';
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
