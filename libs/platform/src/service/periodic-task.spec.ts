import { PeriodicTask } from './periodic-task';
import type { Logger } from '../logging';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** Polls until the condition holds, however slow the machine (the test times out otherwise). */
async function until(condition: () => boolean): Promise<void> {
  while (!condition()) await sleep(5);
}

function fakeLogger(): Logger & { errors: string[] } {
  const errors: string[] = [];
  return { errors, error: (_o: unknown, msg: string) => errors.push(msg) } as unknown as Logger & {
    errors: string[];
  };
}

describe('PeriodicTask', () => {
  it('runs passes one at a time until stopped, and stop waits for the pass under way', async () => {
    let running = 0;
    let maxRunning = 0;
    let passes = 0;
    const task = new PeriodicTask({
      name: 'test',
      intervalMs: 5,
      logger: fakeLogger(),
      run: async () => {
        running++;
        maxRunning = Math.max(maxRunning, running);
        await sleep(20);
        passes++;
        running--;
      },
    });
    task.start();
    await until(() => passes >= 2);
    await task.stop();
    const after = passes;
    await sleep(60);
    expect(maxRunning).toBe(1);
    expect(after).toBeGreaterThanOrEqual(2);
    expect(passes).toBe(after); // nothing ran after stop() resolved
    expect(running).toBe(0);
  });

  it('logs a failed pass, carries on, and backs off exponentially up to the cap', async () => {
    const logger = fakeLogger();
    let fail = true;
    const task = new PeriodicTask({
      name: 'flaky job',
      intervalMs: 10,
      maxBackoffMs: 35,
      logger,
      run: async () => {
        if (fail) throw new Error('database down');
      },
    });
    expect(task.nextDelayMs()).toBe(10);
    task.start();
    await until(() => task.nextDelayMs() === 35);
    expect(logger.errors.length).toBeGreaterThanOrEqual(2);
    expect(new Set(logger.errors)).toEqual(new Set(['flaky job pass failed']));
    expect(task.nextDelayMs()).toBe(35); // 10 * 2^n, capped
    fail = false;
    await until(() => task.nextDelayMs() === 10); // a good pass resets the backoff
    await task.stop();
  });

  it('without maxBackoffMs every pass follows the interval, failed or not', async () => {
    const task = new PeriodicTask({
      name: 'steady',
      intervalMs: 10,
      logger: fakeLogger(),
      run: async () => {
        throw new Error('x');
      },
    });
    task.start();
    await sleep(50);
    expect(task.nextDelayMs()).toBe(10);
    await task.stop();
  });
});
