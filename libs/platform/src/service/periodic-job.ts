import { OnApplicationBootstrap, OnModuleDestroy } from '@nestjs/common';
import { PeriodicTask, PeriodicTaskOptions } from './periodic-task';

export interface PeriodicJobOptions extends Omit<PeriodicTaskOptions, 'run'> {
  /** A backlog is worked off in up to this many batches per pass (`inBatches`); default 20. */
  maxBatchesPerPass?: number;
}

/**
 * The one Nest wrapper of a service's background job (files `<feature>/<name>.job.ts`, classes
 * `<Name>Job`): a provider of its feature module that runs `runOnce()` every interval from
 * application bootstrap until module destroy, which waits for the pass under way before the
 * pool closes. Passes that claim rows must lease them (FOR UPDATE SKIP LOCKED) so several replicas
 * can run the same job.
 */
export abstract class PeriodicJob implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly task: PeriodicTask;
  private readonly maxBatchesPerPass: number;

  protected constructor(opts: PeriodicJobOptions) {
    const { maxBatchesPerPass = 20, ...task } = opts;
    this.maxBatchesPerPass = maxBatchesPerPass;
    this.task = new PeriodicTask({ ...task, run: () => this.runOnce() });
  }

  /** One pass. Thrown errors are logged and back off; the job carries on. */
  abstract runOnce(): Promise<void>;

  /** True once the service is stopping: long passes check it between batches. */
  protected get stopped(): boolean {
    return this.task.stopped;
  }

  /**
   * Works off a backlog: runs `batch` again while it answers true (it was full, so more may be
   * due), at most maxBatchesPerPass times and never once the service is stopping. What is left
   * waits for the next pass.
   */
  protected async inBatches(batch: () => Promise<boolean>): Promise<void> {
    for (let i = 0; i < this.maxBatchesPerPass && !this.stopped; i++) {
      if (!(await batch())) return;
    }
  }

  /** Runs `fn` over the items, at most `limit` at a time; items not started when the service stops are left. */
  protected async eachInParallel<T>(
    items: readonly T[],
    limit: number,
    fn: (item: T) => Promise<void>,
  ): Promise<void> {
    let next = 0;
    const worker = async () => {
      while (next < items.length && !this.stopped) {
        const item = items[next++] as T;
        await fn(item);
      }
    };
    await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  }

  onApplicationBootstrap(): void {
    this.task.start();
  }

  async onModuleDestroy(): Promise<void> {
    await this.task.stop();
  }
}
