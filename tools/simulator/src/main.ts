// `node tools/simulator/dist/main.js [--rate N] [--duration S|forever] [--seed X] [--credentials FILE]`
// (docs/simulator.md): builds a city, runs a day of life, checks the invariants; the last stdout
// line is the JSON report; exit 0 only when every invariant holds (1 not, 2 usage).
import { randomBytes } from 'node:crypto';
import { parseArgs, USAGE, UsageError } from './options';
import { runCity } from './run';

async function main(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs(argv, process.env, () => randomBytes(4).toString('hex'));
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`${err.message}\n\n${USAGE}\n`);
      return 2;
    }
    throw err;
  }
  if (parsed.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const id = process.env.CITYBASE_CLIENT_ID;
  const secret = process.env.CITYBASE_CLIENT_SECRET;
  const credentials =
    !parsed.credentialsFile && id && secret ? { client_id: id, client_secret: secret } : undefined;
  if (!parsed.credentialsFile && !credentials) {
    process.stderr.write(
      `no credentials: give --credentials <city-admin.json> (citybase init --save)\n\n${USAGE}\n`,
    );
    return 2;
  }
  const abort = new AbortController();
  const stop = (signal: NodeJS.Signals) => {
    if (abort.signal.aborted) {
      process.stderr.write(`[simulator] ${signal} again: exiting without the invariant checks\n`);
      process.exit(130);
    }
    process.stderr.write(`[simulator] ${signal}: ending the day of life, then checking the invariants\n`);
    abort.abort();
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  const report = await runCity(
    { ...parsed, credentialsFile: parsed.credentialsFile ?? '', credentials },
    { signal: abort.signal, tty: process.stdout.isTTY === true },
  );
  for (const r of report.invariants)
    process.stderr.write(`[simulator] ${r.ok ? 'holds ' : 'BROKEN'} ${r.name}: ${r.detail}\n`);
  process.stdout.write(`${JSON.stringify(report)}\n`);
  return report.ok ? 0 : 1;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`[simulator] failed: ${(err as Error).stack ?? String(err)}\n`);
    process.stdout.write(
      `${JSON.stringify({ simulator: 'report', ok: false, error: String((err as Error).message ?? err) })}\n`,
    );
    process.exit(1);
  },
);
