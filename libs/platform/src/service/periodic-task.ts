import type { Logger } from '../logging';

export interface PeriodicTaskOptions {
  /** Used in the log line of a failed pass: "<name> pass failed". */
  name: string;
  /** Pause between the end of one pass and the start of the next. */
  intervalMs: number;
  /** One pass. Thrown errors are logged; the task carries on. */
  run: () => Promise<void>;
  logger: Logger;
  /**
   * After consecutive failed passes wait intervalMs * 2^failures, at most this long (e.g. while the
   * database is down). Without it every pass follows the interval.
   */
  maxBackoffMs?: number;
}

/**
 * A background job of a service (reconciler, executor, auto-confirm, expiry): runs `run` every
 * intervalMs, one pass at a time, from start() until stop(), which waits for the pass under way
 * (call it before the pool the pass uses is closed, e.g. in onModuleDestroy). Passes that claim
 * rows must lease them (FOR UPDATE SKIP LOCKED) so several replicas can run the same task.
 */
export class PeriodicTask {
  private timer: NodeJS.Timeout | undefined;
  private pass: Promise<void> | undefined;
  private failures = 0;
  private halted = false;

  constructor(private readonly opts: PeriodicTaskOptions) {}

  /** True once stop() was called: long passes check it between batches. */
  get stopped(): boolean {
    return this.halted;
  }

  start(): void {
    this.schedule();
  }

  async stop(): Promise<void> {
    this.halted = true;
    if (this.timer) clearTimeout(this.timer);
    await this.pass;
  }

  /** The pause before the next pass: the interval, or the backoff after failures. */
  nextDelayMs(): number {
    const { intervalMs, maxBackoffMs } = this.opts;
    if (maxBackoffMs === undefined || this.failures === 0) return intervalMs;
    return Math.min(intervalMs * 2 ** this.failures, maxBackoffMs);
  }

  private schedule(): void {
    if (this.halted) return;
    this.timer = setTimeout(() => {
      this.pass = this.opts
        .run()
        .then(() => {
          this.failures = 0;
        })
        .catch((err: unknown) => {
          this.failures = Math.min(this.failures + 1, 16);
          this.opts.logger.error({ err }, `${this.opts.name} pass failed`);
        })
        .finally(() => {
          this.pass = undefined;
          this.schedule();
        });
    }, this.nextDelayMs());
  }
}
