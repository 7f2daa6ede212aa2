// Long-running work of a service on a worker thread of its own (a second core beside the main event
// loop): the main thread's SupervisedWorker starts it, restarts it when it dies and stops it; the
// thread's file calls runWorkerJob. Only node built-ins are required here at run time.
import { parentPort, type Transferable, Worker } from 'node:worker_threads';
import type { Logger } from 'pino';

/** Lifecycle messages between the two sides; a job's own messages pass as they are. */
const READY = { citybaseWorker: 'ready' } as const;
const STOP = { citybaseWorker: 'stop' } as const;
const isLifecycle = (m: unknown, which: typeof READY | typeof STOP): boolean =>
  typeof m === 'object' &&
  m !== null &&
  (m as { citybaseWorker?: unknown }).citybaseWorker === which.citybaseWorker;

export interface SupervisedWorkerOptions {
  /** Names the worker in logs. */
  name: string;
  /** A new thread running a file that calls runWorkerJob. */
  spawn(): Worker;
  /** The job's own messages. */
  onMessage(message: unknown): void;
  logger: Logger;
  /** Each time a worker that died is started again. */
  onRestart?(): void;
  restartDelayMs?: number;
  /** How long a stopping job may take before its thread is terminated. */
  stopTimeoutMs?: number;
}

/**
 * One job on a worker thread, kept running: `start()` resolves once the job reports it runs and
 * rejects if the first thread dies before that (the service should not start without it); a thread
 * that dies later, or while being started again, is started again after `restartDelayMs`.
 * `stop()` asks the job to stop and waits for the thread to end (terminating it after
 * `stopTimeoutMs`).
 */
export class SupervisedWorker {
  private worker?: Worker;
  private stopping = false;
  private restartTimer?: NodeJS.Timeout;

  constructor(private readonly opts: SupervisedWorkerOptions) {}

  start(): Promise<void> {
    return this.run(true);
  }

  async stop(): Promise<void> {
    this.stopping = true;
    clearTimeout(this.restartTimer);
    const worker = this.worker;
    if (!worker) return;
    const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
    worker.postMessage(STOP);
    const timer = setTimeout(() => {
      this.opts.logger.warn({ worker: this.opts.name }, 'worker did not stop in time; terminating it');
      void worker.terminate();
    }, this.opts.stopTimeoutMs ?? 15_000);
    await exited;
    clearTimeout(timer);
  }

  private run(first: boolean): Promise<void> {
    const { name, logger } = this.opts;
    const worker = this.opts.spawn();
    this.worker = worker;
    return new Promise<void>((resolve, reject) => {
      let ready = false;
      worker.on('message', (m: unknown) => {
        if (!isLifecycle(m, READY)) return this.opts.onMessage(m);
        ready = true;
        logger.info({ worker: name, thread_id: worker.threadId }, 'worker running');
        resolve();
      });
      worker.on('error', (err) => logger.error({ err, worker: name }, 'worker failed'));
      worker.on('exit', (code) => {
        if (this.worker === worker) this.worker = undefined;
        if (this.stopping) return resolve();
        if (first && !ready) return reject(new Error(`worker ${name} exited (code ${code}) before it ran`));
        this.opts.onRestart?.();
        logger.error({ worker: name, code }, 'worker exited; starting it again');
        this.restartTimer = setTimeout(() => void this.run(false), this.opts.restartDelayMs ?? 1_000);
        resolve();
      });
    });
  }
}

/** What a job answers once it runs. */
export interface WorkerJob {
  stop(): Promise<void>;
}

/**
 * The worker thread's side: starts the job, tells the main thread it runs, stops it when asked and
 * lets the thread end. A job that fails to start fails the thread (SupervisedWorker sees it exit).
 */
export function runWorkerJob(
  start: (post: (message: unknown, transfer?: readonly Transferable[]) => void) => Promise<WorkerJob>,
): void {
  const port = parentPort;
  if (!port) throw new Error('runWorkerJob runs on a worker thread (SupervisedWorker starts it)');
  const post = (message: unknown, transfer: readonly Transferable[] = []) =>
    port.postMessage(message, transfer);
  const job = start(post);
  port.on('message', (m: unknown) => {
    if (!isLifecycle(m, STOP)) return;
    void (async () => {
      try {
        await (await job).stop();
      } finally {
        port.close();
      }
    })();
  });
  job.then(
    () => post(READY),
    (err: unknown) =>
      setImmediate(() => {
        throw err;
      }),
  );
}
