// `npm run bench -- ledger`: ledger transactions posted per second, all on one hot escrow account
// (16 balance shards, ADR 0006) and spread over many, next to pgbench in the same run. The postings
// go through settlement's group commit (ADR 0006 "Group commit") and are settlement's own code (services/settlement/dist/admin.js bench-ledger, run as a process:
// tools may not import services) against a scratch database at the services' synchronous_commit.
import { spawn } from 'child_process';
import { join } from 'path';
import { pgbenchBaseline, pgbenchFigure, pgbenchParams } from './baselines';
import {
  benchDatabase,
  checkpoint,
  Cleanup,
  Figure,
  note,
  printBenchmarkFigures,
  ProcessUsage,
  processUsage,
  REPO_ROOT,
  writeBenchReport,
} from './common';
import { BenchConfigError } from './stats';

interface LedgerParams {
  transactions: number;
  concurrency: number;
  accounts: number;
}

function positiveInt(env: NodeJS.ProcessEnv, name: string, def: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return def;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1)
    throw new BenchConfigError(`${name} must be a positive integer, not ${raw}`);
  return n;
}

export function ledgerParams(env: NodeJS.ProcessEnv): LedgerParams {
  return {
    transactions: positiveInt(env, 'BENCH_LEDGER_TRANSACTIONS', 20_000),
    concurrency: positiveInt(env, 'BENCH_LEDGER_CONCURRENCY', 32),
    accounts: positiveInt(env, 'BENCH_LEDGER_ACCOUNTS', 1_000),
  };
}

interface LedgerRun {
  hot_tps: number;
  spread_tps: number;
  hot_unsharded_tps: number;
  invariants_ok: boolean;
}

/**
 * Runs settlement's bench-ledger; resolves with its figures and what the process cost, sampled
 * from /proc every 200 ms while it runs (the last sample before it exits).
 */
function runAdmin(args: string[]): Promise<{ run: LedgerRun; usage: ProcessUsage | undefined }> {
  const script = join(REPO_ROOT, 'services', 'settlement', 'dist', 'admin.js');
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [script, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    let usage: ProcessUsage | undefined;
    const sampler = setInterval(() => {
      try {
        usage = processUsage(child.pid!);
      } catch {
        // exited between two samples
      }
    }, 200);
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.on('error', (err) => {
      clearInterval(sampler);
      reject(err);
    });
    child.on('exit', (code) => {
      clearInterval(sampler);
      if (code !== 0) return reject(new Error(`admin.js bench-ledger exited ${code}: ${out}`));
      try {
        resolve({ run: JSON.parse(out.trim().split('\n').pop() ?? '') as LedgerRun, usage });
      } catch (err) {
        reject(new Error(`admin.js bench-ledger printed no JSON: ${out} (${(err as Error).message})`));
      }
    });
  });
}

export async function runLedger(cleanup: Cleanup): Promise<void> {
  const p = ledgerParams(process.env);
  const pp = pgbenchParams(process.env);
  const started = Date.now();
  const { db, synchronousCommit } = await benchDatabase('bench_ledger', cleanup);
  note(
    `posting ${p.transactions} transactions hot, then spread over ${p.accounts} accounts; ${p.concurrency} in flight`,
  );
  const { run, usage } = await runAdmin([
    'bench-ledger',
    '--database',
    db.url,
    '--transactions',
    String(p.transactions),
    '--concurrency',
    String(p.concurrency),
    '--accounts',
    String(p.accounts),
  ]);
  if (!run.invariants_ok) throw new Error('the ledger invariants failed after the bench run');
  await checkpoint();
  note('baseline: pgbench');
  const pg = await pgbenchBaseline(pp, cleanup);
  const shape = `${p.concurrency} callers each posting one at a time through settlement's group commit (LedgerBatcher: postings that arrive together share one database transaction: insert the transactions, insert their entries, the statement trigger moves each balance row once, zero-sum check at commit); synchronous_commit=${synchronousCommit}`;
  const figures: Figure[] = [
    {
      name: 'hot_tps',
      value: run.hot_tps,
      unit: 'transactions/s',
      how: `${p.transactions} escrow postings all crediting one project's escrow account (16 shards); ${shape}`,
    },
    {
      name: 'spread_tps',
      value: run.spread_tps,
      unit: 'transactions/s',
      how: `${p.transactions} escrow postings over ${p.accounts} projects' escrow accounts; ${shape}`,
    },
    pgbenchFigure(pp, pg),
  ];
  printBenchmarkFigures('ledger', started, figures);
  process.stdout.write(
    [
      '',
      'diagnostics:',
      `  hot_unsharded_tps ${run.hot_unsharded_tps} transactions/s: the same postings on a one-row account (what the 16 shards buy)`,
      '',
    ].join('\n'),
  );
  await writeBenchReport(
    'ledger',
    started,
    {
      hot_tps: run.hot_tps,
      spread_tps: run.spread_tps,
      hot_unsharded_tps: run.hot_unsharded_tps,
      baseline_pgbench_tps: figures[2]!.value,
    },
    { ...p, synchronous_commit: synchronousCommit, pgbench_scale: pp.scale, pgbench_clients: pp.clients },
    usage ? { settlement_bench_ledger: usage } : {},
  );
}
