// Administration commands of the points service, run next to it:
//
//   node services/points/dist/admin.js check-invariants [--database <url>]
//     Recomputes the points invariants from the rows and the append-only history (docs/points.md
//     "Invariants": lots within bounds and equal to their history, balances, reservations ended
//     once, budgets within their allotments and equal to their lots, earnings, households,
//     transfers, clearing obligations netting to zero). Prints one JSON report
//     {"ok": bool, "violations": [...]}; exit 0 when every invariant holds, 3 when one does not.
//     Default database: DATABASE_URL of points' config. Read-only (one REPEATABLE READ
//     transaction, so the report is of one consistent snapshot).
import { createPool, loadConfig, withTransaction } from '@citybase/platform';
import { pointsConfig } from './config';
import { checkPointsInvariants } from './invariants';

const USAGE = 'usage: admin.js check-invariants [--database <url>]';

class UsageError extends Error {}

function databaseFlag(rest: string[]): string | undefined {
  if (rest.length === 0) return undefined;
  const [flag, value, ...extra] = rest;
  const inline = flag?.startsWith('--database=') ? flag.slice('--database='.length) : undefined;
  if (inline !== undefined && value === undefined && inline !== '') return inline;
  if (flag !== '--database' || !value || extra.length > 0)
    throw new UsageError(`unexpected arguments: ${rest.join(' ')}`);
  return value;
}

async function checkInvariants(rest: string[]): Promise<number> {
  const url = databaseFlag(rest) ?? loadConfig(pointsConfig, process.env).DATABASE_URL;
  const pool = createPool(url, { max: 1, application_name: 'citybase-points-check' });
  try {
    const violations = await withTransaction(pool, (client) => checkPointsInvariants(client), {
      isolation: 'repeatable read',
    });
    process.stdout.write(`${JSON.stringify({ ok: violations.length === 0, violations })}\n`);
    return violations.length === 0 ? 0 : 3;
  } finally {
    await pool.end();
  }
}

async function main(argv: string[]): Promise<number> {
  const [command = '', ...rest] = argv;
  try {
    if (command === 'check-invariants') return await checkInvariants(rest);
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
