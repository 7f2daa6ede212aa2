// `citybase ledger check` against stand-in admin scripts (CITYBASE_SETTLEMENT_ADMIN): arguments,
// pass-through of the report and exit codes. The real check-ledger runs in
// services/settlement/test/ledger.int-spec.ts.
import { runCli, scratchFolder } from '../test/fake-admin';
import { DEFAULT_SETTLEMENT_DATABASE_URL } from './ledger-check';

const scratch = scratchFolder('ledger');
const check = (env: Record<string, string | undefined>, ...args: string[]) =>
  runCli(['ledger', 'check', ...args], env);

describe('citybase ledger check', () => {
  it('passes the report through and exits 0 when the invariants hold', async () => {
    const { script, seen } = scratch.fakeAdmin(`process.stdout.write('{"ok":true,"violations":[]}\\n');`);
    const res = await check({ CITYBASE_SETTLEMENT_ADMIN: script }, '--database', 'postgres://db/x');
    expect(res).toEqual({ code: 0, out: '{"ok":true,"violations":[]}\n', err: '' });
    expect(seen().argv).toEqual(['check-ledger', '--database', 'postgres://db/x']);
  });

  it('exits 3 with a warning when one does not hold', async () => {
    const { script } = scratch.fakeAdmin(`process.stdout.write('{"ok":false}\\n'); process.exitCode = 3;`);
    const res = await check({ CITYBASE_SETTLEMENT_ADMIN: script });
    expect(res.code).toBe(3);
    expect(res.out).toBe('{"ok":false}\n');
    expect(res.err).toMatch(/do NOT hold/);
  });

  it('uses DATABASE_URL, else the local settlement database', async () => {
    const { script, seen } = scratch.fakeAdmin(`process.stdout.write('{}\\n');`);
    await check({ CITYBASE_SETTLEMENT_ADMIN: script, DATABASE_URL: 'postgres://env/db' });
    expect(seen().argv).toEqual(['check-ledger', '--database', 'postgres://env/db']);
    await check({ CITYBASE_SETTLEMENT_ADMIN: script });
    expect(seen().argv).toEqual(['check-ledger', '--database', DEFAULT_SETTLEMENT_DATABASE_URL]);
  });

  it('a crash of the checker is a failure (exit 1), and a missing admin.js says to build settlement', async () => {
    const { script } = scratch.fakeAdmin(`process.exitCode = 1;`);
    const crashed = await check({ CITYBASE_SETTLEMENT_ADMIN: script });
    expect(crashed.code).toBe(1);
    expect(crashed.err).toMatch(/check-ledger exited with code 1/);
    const missing = await check({ CITYBASE_SETTLEMENT_ADMIN: scratch.path('nope.js') });
    expect(missing.code).toBe(1);
    expect(missing.err).toMatch(/npx nx run settlement:build/);
  });
});
