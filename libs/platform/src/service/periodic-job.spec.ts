import { PeriodicJob, PeriodicJobOptions } from './periodic-job';
import type { Logger } from '../logging';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const logger = { error: () => undefined } as unknown as Logger;

/** A job whose pass is whatever the test sets; never started unless the test says so. */
class TestJob extends PeriodicJob {
  pass: (job: TestJob) => Promise<void> = async () => undefined;

  constructor(opts: Partial<PeriodicJobOptions> = {}) {
    super({ name: 'test', intervalMs: 60_000, logger, ...opts });
  }

  async runOnce(): Promise<void> {
    await this.pass(this);
  }

  batches(batch: () => Promise<boolean>): Promise<void> {
    return this.inBatches(batch);
  }

  parallel<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
    return this.eachInParallel(items, limit, fn);
  }
}

describe('PeriodicJob.inBatches', () => {
  it('runs batches while they are full and stops at the first that is not', async () => {
    const job = new TestJob();
    const sizes = [3, 3, 1, 3];
    let runs = 0;
    await job.batches(async () => (sizes[runs++] ?? 0) >= 3);
    expect(runs).toBe(3);
  });

  it('runs at most maxBatchesPerPass batches in one pass (20 by default)', async () => {
    let runs = 0;
    await new TestJob().batches(async () => ++runs > 0);
    expect(runs).toBe(20);
    runs = 0;
    await new TestJob({ maxBatchesPerPass: 4 }).batches(async () => ++runs > 0);
    expect(runs).toBe(4);
  });

  it('starts no batch once the job is stopping', async () => {
    const job = new TestJob();
    let runs = 0;
    await job.batches(async () => {
      runs++;
      if (runs === 2) await job.onModuleDestroy();
      return true;
    });
    expect(runs).toBe(2);
  });
});

describe('PeriodicJob.eachInParallel', () => {
  it('runs every item, at most `limit` at a time', async () => {
    const job = new TestJob();
    let running = 0;
    let maxRunning = 0;
    const seen: number[] = [];
    await job.parallel([1, 2, 3, 4, 5, 6, 7], 3, async (n) => {
      running++;
      maxRunning = Math.max(maxRunning, running);
      await sleep(5);
      seen.push(n);
      running--;
    });
    expect(maxRunning).toBe(3);
    expect(seen.sort()).toEqual([1, 2, 3, 4, 5, 6, 7]);
  });

  it('starts no item once the job is stopping; items under way finish', async () => {
    const job = new TestJob();
    const finished: number[] = [];
    await job.parallel([1, 2, 3, 4, 5], 2, async (n) => {
      if (n === 2) await job.onModuleDestroy();
      await sleep(5);
      finished.push(n);
    });
    expect(finished.sort()).toEqual([1, 2]);
  });

  it('does nothing for no items', async () => {
    let calls = 0;
    await new TestJob().parallel([], 4, async () => {
      calls++;
    });
    expect(calls).toBe(0);
  });
});

describe('PeriodicJob', () => {
  it('runs its pass from application bootstrap until module destroy', async () => {
    const job = new TestJob({ intervalMs: 5 });
    let passes = 0;
    job.pass = async () => {
      passes++;
    };
    job.onApplicationBootstrap();
    // however slow the machine: it keeps passing until destroyed (the test times out otherwise)
    while (passes < 2) await sleep(5);
    await job.onModuleDestroy();
    const after = passes;
    await sleep(30);
    expect(passes).toBe(after);
  });
});
