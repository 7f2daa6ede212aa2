import { OnApplicationBootstrap, OnModuleDestroy } from '@nestjs/common';
import { PeriodicTask, PeriodicTaskOptions } from './periodic-task';

/**
 * The one Nest wrapper of a service's background job (files `<feature>/<name>.job.ts`, classes
 * `<Name>Job`): a provider of its feature module that runs `runOnce()` every interval from
 * application bootstrap until module destroy, which waits for the pass under way before the
 * pool closes. Passes that claim rows must lease them (FOR UPDATE SKIP LOCKED) so several replicas
 * can run the same job.
 */
export abstract class PeriodicJob implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly task: PeriodicTask;

  protected constructor(opts: Omit<PeriodicTaskOptions, 'run'>) {
    this.task = new PeriodicTask({ ...opts, run: () => this.runOnce() });
  }

  /** One pass. Thrown errors are logged and back off; the job carries on. */
  abstract runOnce(): Promise<void>;

  /** True once the service is stopping: long passes check it between batches. */
  protected get stopped(): boolean {
    return this.task.stopped;
  }

  onApplicationBootstrap(): void {
    this.task.start();
  }

  async onModuleDestroy(): Promise<void> {
    await this.task.stop();
  }
}
