// Administration commands of the settlement service, run next to it:
//
//   node services/settlement/dist/admin.js check-ledger [--database <url>]
//     Recomputes the ledger's invariants from the entries (zero-sum transactions, balances equal
//     to their entries, held amounts equal to pending holds, no negative never-negative account,
//     escrow = paid - released - refunded per project). Prints one JSON report; exit 0 when every
//     invariant holds, 3 when one does not. Default database: DATABASE_URL of settlement's config.
//     Read-only (one REPEATABLE READ transaction, so the report is of one consistent snapshot).
//
//   node services/settlement/dist/admin.js bench-ledger --database <url> [--transactions N]
//                                                      [--concurrency C] [--accounts A]
//     Posts N transactions (default 20000) with C in flight (default 32) into a scratch database
//     (migrated here; never the city's database): first all crediting one hot escrow account, then
//     spread over A escrow accounts (default 1000), then all on one single-row account (what the
//     shards buy), each through the ledger's group commit (LedgerBatcher). Prints one JSON line with
//     hot_tps, spread_tps and hot_unsharded_tps and the batches each took. `npm run bench -- ledger`
//     runs it next to a pgbench baseline.
import { join } from 'path';
import { performance } from 'perf_hooks';
import {
  createPool,
  loadConfig,
  platformMigrations,
  runMigrations,
  withTransaction,
} from '@citybase/platform';
import { AccountKind } from '@citybase/contracts/citybase/settlement/v1/settlement';
import { settlementConfig } from './config';
import { checkLedgerInvariants } from './ledger/invariants';
import { LedgerBatcher } from './ledger/ledger.batcher';
import { ensureAccount } from './ledger/ledger.store';

const USAGE = [
  'usage: admin.js check-ledger [--database <url>]',
  '       admin.js bench-ledger --database <url> [--transactions N] [--concurrency C] [--accounts A]',
].join('\n');

class UsageError extends Error {}

function parseFlags(rest: string[], allowed: string[]): Map<string, string> {
  const flags = new Map<string, string>();
  for (let i = 0; i < rest.length; i++) {
    const arg = rest[i] ?? '';
    const [name, inline] = arg.startsWith('--') ? arg.slice(2).split(/=(.*)/s, 2) : [undefined, undefined];
    if (!name || !allowed.includes(name)) throw new UsageError(`unknown argument ${arg}`);
    const value = inline ?? rest[++i];
    if (value === undefined || value === '') throw new UsageError(`--${name} needs a value`);
    flags.set(name, value);
  }
  return flags;
}

function positive(flags: Map<string, string>, name: string, def: number): number {
  const raw = flags.get(name);
  if (raw === undefined) return def;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`--${name} must be a positive integer`);
  return n;
}

async function checkLedger(flags: Map<string, string>): Promise<number> {
  const url = flags.get('database') ?? loadConfig(settlementConfig, process.env).DATABASE_URL;
  const pool = createPool(url, { max: 1, application_name: 'citybase-ledger-check' });
  try {
    const report = await withTransaction(pool, (client) => checkLedgerInvariants(client), {
      isolation: 'repeatable read',
    });
    process.stdout.write(`${JSON.stringify(report)}\n`);
    return report.ok ? 0 : 3;
  } finally {
    await pool.end();
  }
}

async function benchLedger(flags: Map<string, string>): Promise<number> {
  const url = flags.get('database');
  if (!url) throw new UsageError('bench-ledger needs --database (a scratch database: it writes)');
  const transactions = positive(flags, 'transactions', 20_000);
  const concurrency = positive(flags, 'concurrency', 32);
  const spreadAccounts = positive(flags, 'accounts', 1_000);
  const pool = createPool(url, { max: concurrency, application_name: 'citybase-ledger-bench' });
  try {
    await runMigrations(pool, [
      platformMigrations,
      { namespace: 'settlement', dir: join(__dirname, '..', 'migrations') },
    ]);
    const account = (kind: AccountKind, projectId: string, ownerRef = '') =>
      withTransaction(pool, (c) =>
        ensureAccount(c, { kind, currency: 'CNY', operatorId: 'bench', projectId, ownerRef }),
      );
    const clearing = await account(AccountKind.ACCOUNT_KIND_CHANNEL_CLEARING, 'hot', 'sandbox');
    const hot = await account(AccountKind.ACCOUNT_KIND_ESCROW, 'hot');
    const spread: { clearing: string; escrow: string }[] = [];
    for (let i = 0; i < spreadAccounts; i++) {
      spread.push({
        clearing: await account(AccountKind.ACCOUNT_KIND_CHANNEL_CLEARING, `p${i}`, 'sandbox'),
        escrow: await account(AccountKind.ACCOUNT_KIND_ESCROW, `p${i}`),
      });
    }
    // one payment's escrow posting (Dr channel clearing / Cr escrow), as the escrow consumer posts
    // it, through the ledger's group commit (ADR 0006): C callers each wait for their posting
    const run = async (label: string, pick: (i: number) => { clearing: string; escrow: string }) => {
      const batcher = new LedgerBatcher(pool);
      let next = 0;
      const started = performance.now();
      await Promise.all(
        Array.from({ length: concurrency }, async () => {
          for (let i = next++; i < transactions; i = next++) {
            const { clearing: dr, escrow: cr } = pick(i);
            await batcher.post({
              kind: 'payment_escrowed',
              idempotencyKey: `${label}:${i}`,
              currency: 'CNY',
              operatorId: 'bench',
              reference: `${label}-${i}`,
              lines: [
                { accountId: dr, amountMinor: 100n + BigInt(i % 900) },
                { accountId: cr, amountMinor: -(100n + BigInt(i % 900)) },
              ],
            });
          }
        }),
      );
      const tps = transactions / ((performance.now() - started) / 1000);
      return { tps, batches: batcher.counts().batches };
    };
    const hotRun = await run('hot', () => ({ clearing, escrow: hot }));
    const spreadRun = await run('spread', (i) => spread[(i * 7919) % spreadAccounts]!);
    // what the shards buy: the same traffic on a one-row account (a merchant payable)
    const oneRow = await withTransaction(pool, (c) =>
      ensureAccount(c, {
        kind: AccountKind.ACCOUNT_KIND_MERCHANT_PAYABLE,
        currency: 'CNY',
        operatorId: 'bench',
        projectId: 'hot',
        merchantId: 'one-row',
      }),
    );
    const unshardedRun = await run('unsharded', () => ({ clearing, escrow: oneRow }));
    // bare escrow postings without escrow orders: every invariant but the escrow-vs-orders one
    const report = await checkLedgerInvariants(pool, { escrow: false });
    process.stdout.write(
      `${JSON.stringify({
        hot_tps: Math.round(hotRun.tps * 10) / 10,
        spread_tps: Math.round(spreadRun.tps * 10) / 10,
        hot_unsharded_tps: Math.round(unshardedRun.tps * 10) / 10,
        // database transactions the postings of each run took (group commit)
        hot_batches: hotRun.batches,
        spread_batches: spreadRun.batches,
        unsharded_batches: unshardedRun.batches,
        transactions,
        concurrency,
        spread_accounts: spreadAccounts,
        invariants_ok: report.ok,
      })}\n`,
    );
    return report.ok ? 0 : 3;
  } finally {
    await pool.end();
  }
}

async function main(argv: string[]): Promise<number> {
  const [command = '', ...rest] = argv;
  try {
    if (command === 'check-ledger') return await checkLedger(parseFlags(rest, ['database']));
    if (command === 'bench-ledger')
      return await benchLedger(parseFlags(rest, ['database', 'transactions', 'concurrency', 'accounts']));
    throw new UsageError(command ? `unknown command ${command}` : 'no command');
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`${err.message}\n${USAGE}\n`);
      return 2;
    }
    process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
    return 1;
  }
}

void main(process.argv.slice(2)).then((code) => process.exit(code));
