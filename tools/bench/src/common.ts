// What every benchmark needs: real-server endpoints, throwaway databases at the services'
// durability, Kafka clients, clean-up that also runs on Ctrl-C, progress with a stall guard,
// and the report (table on stdout, JSON under .bench/).
import { execFileSync } from 'child_process';
import { readFileSync, writeFileSync } from 'fs';
import { mkdir, writeFile } from 'fs/promises';
import { cpus, totalmem, release, platform } from 'os';
import { join, resolve } from 'path';
import { performance } from 'perf_hooks';
import type { Admin, Kafka } from 'kafkajs';
import { Client } from 'pg';
import pino from 'pino';
import { createKafka, Logger } from '@citybase/platform';
import { createTestDatabase, TestDatabase, testEndpoints } from '@citybase/platform/testing';
import { formatTable } from './stats';

/** tools/bench/{src,dist} -> the repository root. */
export const REPO_ROOT = resolve(__dirname, '..', '..', '..');

/** Progress lines go to stderr so stdout carries only the report. */
/**
 * Spawn options of a benchmarked service process: with BENCH_CPU_PROF_DIR set, a V8 CPU profile of
 * the process is written there when it stops; BENCH_NODE_ARGS (space-separated) are given to node
 * too, e.g. to try a V8 flag.
 */
export function profiledSpawn(): { nodeArgs: string[] } {
  const dir = process.env.BENCH_CPU_PROF_DIR;
  const extra = (process.env.BENCH_NODE_ARGS ?? '').split(' ').filter((a) => a !== '');
  return { nodeArgs: [...(dir ? ['--cpu-prof', `--cpu-prof-dir=${dir}`] : []), ...extra] };
}

export function note(message: string): void {
  process.stderr.write(`[bench] ${message}\n`);
}

/** JSON logs of the platform components (relay, consumer, kafkajs) on stderr; BENCH_LOG_LEVEL (default warn). */
export function benchLogger(): Logger {
  return pino(
    { level: process.env.BENCH_LOG_LEVEL ?? 'warn', base: { service: 'bench' } },
    pino.destination(2),
  );
}

export function benchKafka(logger: Logger, clientId: string): Kafka {
  // kafkajs 2 warns once per producer that its default partitioner changed; it changes nothing here.
  process.env.KAFKAJS_NO_PARTITIONER_WARNING ??= '1';
  return createKafka({ clientId, brokers: testEndpoints.kafkaBrokers(), logger });
}

/**
 * Things to undo, last first, whether the run finished, failed or was interrupted. `run()` undoes
 * everything added so far (calls while it runs share it); the instance can be used again afterwards.
 */
export class Cleanup {
  private readonly steps: { what: string; undo: () => Promise<unknown> }[] = [];
  private running: Promise<void> | undefined;

  add(what: string, undo: () => Promise<unknown>): void {
    this.steps.push({ what, undo });
  }

  run(): Promise<void> {
    this.running ??= this.drain().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  private async drain(): Promise<void> {
    for (let step = this.steps.pop(); step; step = this.steps.pop()) {
      try {
        await step.undo();
      } catch (err) {
        note(`clean-up: ${step.what} failed: ${(err as Error).message}`);
      }
    }
  }
}

/** Runs `fn` the first time only; later calls get the first call's promise. */
export function once<T>(fn: () => Promise<T>): () => Promise<T> {
  let result: Promise<T> | undefined;
  return () => (result ??= fn());
}

/**
 * A throwaway database (dropped by `cleanup`) at the server's default durability: the test kit
 * turns synchronous_commit off for its databases; services run with the default, so the bench resets it.
 * Resolves with the database and the synchronous_commit a new session of it sees.
 */
export async function benchDatabase(
  label: string,
  cleanup: Cleanup,
): Promise<{ db: TestDatabase; synchronousCommit: string }> {
  const db = await createTestDatabase(label);
  cleanup.add(`drop database ${db.name}`, () => db.drop());
  const admin = new Client({ connectionString: testEndpoints.postgresAdminUrl() });
  await admin.connect();
  try {
    await admin.query(`ALTER DATABASE "${db.name}" RESET synchronous_commit`);
  } finally {
    await admin.end();
  }
  const probe = new Client({ connectionString: db.url });
  await probe.connect();
  try {
    const { rows } = await probe.query<{ synchronous_commit: string }>('SHOW synchronous_commit');
    return { db, synchronousCommit: rows[0].synchronous_commit };
  } finally {
    await probe.end();
  }
}

/** Asks PostgreSQL to write out dirty buffers, so one measurement does not pay for the previous one's writes. */
export async function checkpoint(): Promise<void> {
  const admin = new Client({ connectionString: testEndpoints.postgresAdminUrl() });
  await admin.connect();
  try {
    await admin.query('CHECKPOINT');
  } catch (err) {
    note(`CHECKPOINT skipped: ${(err as Error).message}`);
  } finally {
    await admin.end();
  }
}

export async function withAdmin<T>(kafka: Kafka, fn: (admin: Admin) => Promise<T>): Promise<T> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    return await fn(admin);
  } finally {
    await admin.disconnect();
  }
}

/** Registers deletion of topics and consumer groups this run created. */
export function cleanupKafka(cleanup: Cleanup, kafka: Kafka, topics: string[], groups: string[]): void {
  cleanup.add(`delete topics ${topics.join(', ')}`, () =>
    withAdmin(kafka, async (admin) => {
      const existing = new Set(await admin.listTopics());
      const ours = topics.filter((t) => existing.has(t));
      if (groups.length > 0) await admin.deleteGroups(groups).catch(() => undefined); // a group never joined is not there
      if (ours.length > 0) await admin.deleteTopics({ topics: ours, timeout: 30_000 });
    }),
  );
}

export const now = (): number => performance.now();

/**
 * Counts progress towards a target; `done` resolves when it is reached and rejects when nothing
 * moved for `stallMs` (a hang guard: the run fails instead of waiting forever; not a time limit on
 * the measurement).
 */
export class Completion {
  readonly done: Promise<void>;
  count = 0;
  private lastProgress = now();
  private resolve!: () => void;
  private reject!: (err: Error) => void;
  private readonly watchdog: NodeJS.Timeout;

  constructor(
    readonly target: number,
    what: string,
    stallMs = stallGuardMs(),
  ) {
    this.done = new Promise<void>((res, rej) => {
      this.resolve = res;
      this.reject = rej;
    });
    this.done.catch(() => undefined); // observed by whoever awaits it
    this.watchdog = setInterval(() => {
      if (now() - this.lastProgress > stallMs) {
        this.stop();
        this.reject(
          new Error(
            `${what}: no progress for ${Math.round(stallMs / 1000)}s (${this.count} of ${this.target})`,
          ),
        );
      }
    }, 1_000);
    if (target <= 0) this.finish();
  }

  add(n = 1): void {
    this.count += n;
    this.lastProgress = now();
    if (this.count >= this.target) this.finish();
  }

  stop(): void {
    clearInterval(this.watchdog);
  }

  private finish(): void {
    this.stop();
    this.resolve();
  }
}

function stallGuardMs(): number {
  const s = Number(process.env.BENCH_STALL_SECONDS ?? 60);
  return (Number.isFinite(s) && s > 0 ? s : 60) * 1000;
}

export function machineInfo(): {
  cpus: number;
  cpu_model: string;
  memory_mb: number;
  node: string;
  os: string;
} {
  const list = cpus();
  return {
    cpus: list.length,
    cpu_model: list[0]?.model.trim() ?? 'unknown',
    memory_mb: Math.round(totalmem() / 1024 / 1024),
    node: process.version,
    os: `${platform()} ${release()}`,
  };
}

export interface Figure {
  /** Field name in the JSON report. */
  name: string;
  value: number;
  unit: string;
  how: string;
}

export function printFigures(title: string, figures: readonly Figure[]): void {
  const table = formatTable(
    ['figure', 'value', 'unit', 'how measured'],
    figures.map((f) => [f.name, String(f.value), f.unit, f.how]),
  );
  process.stdout.write(`\n${title}\n\n${table}\n`);
}

/** Prints a benchmark's figures under a title naming it, when it started and how long it took. */
export function printBenchmarkFigures(name: string, startedAt: number, figures: readonly Figure[]): void {
  const seconds = Math.round((Date.now() - startedAt) / 1000);
  printFigures(`${name} benchmark (${new Date(startedAt).toISOString()}, ${seconds} s)`, figures);
}

/** Writes .bench/<name>.json at the repository root; resolves with its path. */
export async function writeReport(name: string, report: object): Promise<string> {
  const dir = join(REPO_ROOT, '.bench');
  await mkdir(dir, { recursive: true });
  const file = join(dir, `${name}.json`);
  await writeFile(file, `${JSON.stringify(report, null, 2)}\n`);
  return file;
}

/** The figures' values by name, as a report holds them. */
export function figureValues(figures: readonly Figure[]): Record<string, number> {
  return Object.fromEntries(figures.map((f) => [f.name, f.value]));
}

/** What a process cost: CPU seconds (user + system) and its peak resident memory. */
export interface ProcessUsage {
  cpu_s: number;
  peak_rss_mb: number;
}

/** CPU seconds of a process from the text of /proc/<pid>/stat: utime + stime (fields 14 and 15). */
export function cpuSecondsFromStat(stat: string, ticksPerSecond: number): number {
  // the command name (field 2) is in parentheses and may hold spaces: count fields after its end
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  if (!Number.isFinite(utime) || !Number.isFinite(stime)) throw new Error(`unreadable /proc stat: ${stat}`);
  return (utime + stime) / ticksPerSecond;
}

/** Peak resident set size in MB from the text of /proc/<pid>/status (VmHWM, in kB). */
export function peakRssMbFromStatus(status: string): number {
  const kb = /^VmHWM:\s+(\d+)\s+kB$/m.exec(status)?.[1];
  if (kb === undefined) throw new Error('no VmHWM in /proc status');
  return Number(kb) / 1024;
}

let clockTicks: number | undefined;

/** The kernel's clock ticks per second (/proc CPU times are in these), asked once. */
function ticksPerSecond(): number {
  clockTicks ??= Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  return clockTicks;
}

/**
 * What a live process has cost so far (Linux /proc). Read it just before the process is stopped:
 * its peak RSS then covers the whole benchmark.
 */
export function processUsage(pid: number): ProcessUsage {
  return {
    cpu_s:
      Math.round(cpuSecondsFromStat(readFileSync(`/proc/${pid}/stat`, 'utf8'), ticksPerSecond()) * 100) / 100,
    peak_rss_mb: Math.round(peakRssMbFromStatus(readFileSync(`/proc/${pid}/status`, 'utf8'))),
  };
}

/** Busy and total CPU time of the whole machine so far (the first line of /proc/stat), in ms. */
export function busyMsFromProcStat(stat: string, ticksPerSecond: number): { busy: number; total: number } {
  const line = stat.split('\n', 1)[0];
  if (!line.startsWith('cpu ')) throw new Error(`unreadable /proc/stat: ${line.slice(0, 40)}`);
  // user nice system idle iowait irq softirq steal (guest time is already inside user and nice)
  const [user, nice, system, idle, iowait, irq, softirq, steal] = line
    .split(/\s+/)
    .slice(1, 9)
    .map((v) => Number(v) || 0);
  const busy = user + nice + system + irq + softirq + steal;
  const toMs = 1000 / ticksPerSecond;
  return { busy: busy * toMs, total: (busy + idle + iowait) * toMs };
}

function machineCpu(): { busy: number; total: number } {
  return busyMsFromProcStat(readFileSync('/proc/stat', 'utf8'), ticksPerSecond());
}

/**
 * CPU time the whole machine spends on a phase of a benchmark, every process included (services,
 * PostgreSQL, Kafka, the bench): from start() until end() and then until the machine has settled
 * (the first 500 ms window under 25% busy, which is not counted; at most 15 s), so work the phase
 * left behind (events still being consumed) is counted with it. Meaningful only on an otherwise
 * quiet machine.
 */
export class MachineCpu {
  private readonly from = machineCpu();

  static start(): MachineCpu {
    return new MachineCpu();
  }

  /** Busy CPU ms since start(), the settling tail included. */
  async end(): Promise<number> {
    const deadline = now() + 15_000;
    let last = machineCpu();
    while (now() < deadline) {
      await new Promise((r) => setTimeout(r, 500));
      const cur = machineCpu();
      const window = cur.total - last.total;
      // the quiet window itself is not the phase's
      if (window > 0 && (cur.busy - last.busy) / window < 0.25) break;
      last = cur;
    }
    return last.busy - this.from.busy;
  }
}

let ownAtStart: ProcessUsage = { cpu_s: 0, peak_rss_mb: 0 };

/**
 * Starts measuring this process for the next benchmark (`bench -- all` runs several in one
 * process): CPU from now, and the peak RSS reset (Linux: 5 to /proc/self/clear_refs).
 */
export function startOwnUsage(): void {
  try {
    writeFileSync('/proc/self/clear_refs', '5');
  } catch {
    // not permitted here: the peak then covers the whole life of this process
  }
  ownAtStart = processUsage(process.pid);
}

/** This process's cost since startOwnUsage(). */
function ownUsage(): ProcessUsage {
  const now = processUsage(process.pid);
  return { cpu_s: Math.round((now.cpu_s - ownAtStart.cpu_s) * 100) / 100, peak_rss_mb: now.peak_rss_mb };
}

/**
 * Writes the report of a benchmark (.bench/<name>.json): its figures' values, when it started, the
 * machine, the parameters, and what each process cost (`processes`: every process the benchmark
 * spawned, plus `bench`, this process since the benchmark began, which also runs whatever the
 * benchmark drives in-process);
 * prints that cost and says on stdout where the report is.
 */
export async function writeBenchReport(
  name: string,
  startedAt: number,
  values: Record<string, number>,
  params: Record<string, unknown>,
  spawned: Record<string, ProcessUsage>,
): Promise<void> {
  const processes = { ...spawned, bench: ownUsage() };
  process.stdout.write(
    `\n${formatTable(
      ['process', 'cpu_s', 'peak_rss_mb'],
      Object.entries(processes).map(([p, u]) => [p, String(u.cpu_s), String(u.peak_rss_mb)]),
    )}\n`,
  );
  const file = await writeReport(name, {
    ...values,
    processes,
    measured_at: new Date(startedAt).toISOString(),
    machine: machineInfo(),
    params,
  });
  process.stdout.write(`\nwrote ${file}\n`);
}
