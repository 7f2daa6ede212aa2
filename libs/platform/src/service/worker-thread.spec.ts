import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import pino from 'pino';
import { SupervisedWorker } from './worker-thread';

const logger = pino({ level: 'silent' });

/**
 * A real worker thread running worker-thread.ts's runWorkerJob (transpiled here, as Jest does for
 * the test, since a thread cannot load TypeScript) with a job written in `job` (JavaScript, the
 * body of `async (post, data) => { ... return { stop } }`).
 */
function jobThread(job: string, data: unknown = {}): Worker {
  const file = join(__dirname, 'worker-thread.ts');
  const code = `
    const { workerData } = require('node:worker_threads');
    const Module = require('node:module');
    const { transformFileSync } = require(workerData.swc);
    const m = new Module(workerData.file);
    m.filename = workerData.file;
    m.paths = Module._nodeModulePaths(workerData.dir);
    m._compile(transformFileSync(workerData.file, {
      jsc: { parser: { syntax: 'typescript' }, target: 'es2022' },
      module: { type: 'commonjs' },
    }).code, workerData.file);
    m.exports.runWorkerJob((post) => (async (post, data) => { ${job} })(post, workerData.data));
  `;
  return new Worker(code, {
    eval: true,
    workerData: { file, dir: __dirname, swc: require.resolve('@swc/core'), data },
  });
}

describe('SupervisedWorker and runWorkerJob', () => {
  const started: SupervisedWorker[] = [];
  afterEach(async () => {
    await Promise.all(started.splice(0).map((w) => w.stop()));
  });
  const supervise = (spawn: () => Worker, extra: { onRestart?: () => void; stopTimeoutMs?: number } = {}) => {
    const messages: unknown[] = [];
    const w = new SupervisedWorker({
      name: 'test',
      spawn,
      onMessage: (m) => messages.push(m),
      logger,
      restartDelayMs: 20,
      ...extra,
    });
    started.push(w);
    return { w, messages };
  };

  it("starts once the job runs, passes the job's messages on, stops the job when asked and lets the thread end", async () => {
    let thread: Worker | undefined;
    const { w, messages } = supervise(() => {
      thread = jobThread(
        `
        const timer = setInterval(() => undefined, 1000); // a handle the job owns
        post({ hello: data.n });
        return { stop: async () => { clearInterval(timer); post({ stopped: true }); } };
      `,
        { n: 7 },
      );
      return thread;
    });
    await w.start();
    await new Promise((r) => setTimeout(r, 50));
    expect(messages).toEqual([{ hello: 7 }]);
    const exited = new Promise<number>((r) => thread!.once('exit', r));
    await w.stop();
    expect(await exited).toBe(0);
    expect(messages).toEqual([{ hello: 7 }, { stopped: true }]);
  });

  it('rejects start when the first thread dies before its job runs', async () => {
    const { w } = supervise(() => jobThread(`throw new Error('no database');`));
    await expect(w.start()).rejects.toThrow(/exited \(code 1\) before it ran/);
  });

  it('starts a thread that died after it ran again, also when the next one dies while starting', async () => {
    let spawned = 0;
    let restarts = 0;
    const { w, messages } = supervise(
      () => {
        spawned += 1;
        const n = spawned;
        // 1: runs, then dies; 2: dies before it runs; 3: runs and stays
        if (n === 2) return jobThread(`throw new Error('kafka down');`);
        return jobThread(
          `post({ run: data.n });
           if (data.n === 1) setTimeout(() => { throw new Error('boom'); }, 20);
           const timer = setInterval(() => undefined, 1000);
           return { stop: async () => clearInterval(timer) };`,
          { n },
        );
      },
      { onRestart: () => (restarts += 1) },
    );
    await w.start();
    for (let i = 0; i < 200 && spawned < 3; i++) await new Promise((r) => setTimeout(r, 10));
    for (let i = 0; i < 200 && messages.length < 2; i++) await new Promise((r) => setTimeout(r, 10));
    expect(spawned).toBe(3);
    expect(restarts).toBe(2);
    expect(messages).toEqual([{ run: 1 }, { run: 3 }]);
  });

  it('terminates a job that does not stop in time, and never restarts a thread it stopped', async () => {
    const threads: Worker[] = [];
    let restarts = 0;
    const { w } = supervise(
      () => {
        threads.push(jobThread(`return { stop: () => new Promise(() => undefined) };`));
        return threads[threads.length - 1]!;
      },
      { onRestart: () => (restarts += 1), stopTimeoutMs: 100 },
    );
    await w.start();
    const exited = new Promise<number>((r) => threads[0]!.once('exit', r));
    await w.stop();
    expect(await exited).toBe(1); // terminated: a thread that ends by itself exits with 0
    await new Promise((r) => setTimeout(r, 100));
    expect({ threads: threads.length, restarts }).toEqual({ threads: 1, restarts: 0 });
  });
});
