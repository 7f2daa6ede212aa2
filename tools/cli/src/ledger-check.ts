// `citybase ledger check`: settlement's invariant checker (services/settlement/dist/admin.js
// check-ledger) run as a child process, so the tool holds no ledger logic of its own.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Env } from './credentials';
import { CliError } from './errors';
import { REPO_ROOT, runAdmin } from './init';
import type { Io } from './io';

export const DEFAULT_SETTLEMENT_DATABASE_URL = 'postgres://postgres@127.0.0.1:5432/citybase_settlement';

/** settlement's admin entry point: env CITYBASE_SETTLEMENT_ADMIN, else services/settlement/dist/admin.js. */
export function settlementAdminPath(env: Env): string {
  return env.CITYBASE_SETTLEMENT_ADMIN || join(REPO_ROOT, 'services', 'settlement', 'dist', 'admin.js');
}

/** Prints the report (stdout) and returns admin.js's exit code: 0 all invariants hold, 3 one does not. */
export async function runLedgerCheck(options: { database?: string }, io: Io): Promise<number> {
  const script = settlementAdminPath(io.env);
  if (!existsSync(script)) {
    throw new CliError(
      `settlement admin entry point not found at ${script}: build settlement first (npx nx run settlement:build)`,
    );
  }
  const database = options.database || io.env.DATABASE_URL || DEFAULT_SETTLEMENT_DATABASE_URL;
  const run = await runAdmin(script, ['check-ledger', '--database', database], io.env, io);
  if (run.code === 0 || run.code === 3) {
    io.out(run.stdout);
    if (run.code === 3) io.err('citybase: the ledger invariants do NOT hold (see "violations")\n');
    return run.code;
  }
  const how =
    run.code === null ? `was killed by ${run.signal ?? 'a signal'}` : `exited with code ${run.code}`;
  throw new CliError(`ledger check failed: settlement admin check-ledger ${how}`);
}
