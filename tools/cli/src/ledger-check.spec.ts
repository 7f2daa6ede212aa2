// `citybase ledger check` against stand-in admin scripts (CITYBASE_SETTLEMENT_ADMIN): arguments,
// pass-through of the report and exit codes. The real check-ledger runs in
// services/settlement/test/ledger.int-spec.ts.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Io } from './io';
import { DEFAULT_SETTLEMENT_DATABASE_URL } from './ledger-check';
import { cli } from './main';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'citybase-ledger-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function fakeAdmin(body: string): { script: string; record: string } {
  const script = join(dir, 'admin.js');
  const record = join(dir, 'record.json');
  writeFileSync(
    script,
    `require('fs').writeFileSync(${JSON.stringify(record)}, JSON.stringify(process.argv.slice(2)));\n${body}\n`,
  );
  return { script, record };
}

async function check(env: Record<string, string | undefined>, ...args: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const io: Io = { out: (t) => out.push(t), err: (t) => err.push(t), env };
  const code = await cli(['ledger', 'check', ...args], io);
  return { code, out: out.join(''), err: err.join('') };
}

describe('citybase ledger check', () => {
  it('passes the report through and exits 0 when the invariants hold', async () => {
    const { script, record } = fakeAdmin(`process.stdout.write('{"ok":true,"violations":[]}\\n');`);
    const res = await check({ CITYBASE_SETTLEMENT_ADMIN: script }, '--database', 'postgres://db/x');
    expect(res).toEqual({ code: 0, out: '{"ok":true,"violations":[]}\n', err: '' });
    expect(JSON.parse(readFileSync(record, 'utf8'))).toEqual([
      'check-ledger',
      '--database',
      'postgres://db/x',
    ]);
  });

  it('exits 3 with a warning when one does not hold', async () => {
    const { script } = fakeAdmin(`process.stdout.write('{"ok":false}\\n'); process.exitCode = 3;`);
    const res = await check({ CITYBASE_SETTLEMENT_ADMIN: script });
    expect(res.code).toBe(3);
    expect(res.out).toBe('{"ok":false}\n');
    expect(res.err).toMatch(/do NOT hold/);
  });

  it('uses DATABASE_URL, else the local settlement database', async () => {
    const { script, record } = fakeAdmin(`process.stdout.write('{}\\n');`);
    await check({ CITYBASE_SETTLEMENT_ADMIN: script, DATABASE_URL: 'postgres://env/db' });
    expect(JSON.parse(readFileSync(record, 'utf8'))).toEqual([
      'check-ledger',
      '--database',
      'postgres://env/db',
    ]);
    await check({ CITYBASE_SETTLEMENT_ADMIN: script });
    expect(JSON.parse(readFileSync(record, 'utf8'))).toEqual([
      'check-ledger',
      '--database',
      DEFAULT_SETTLEMENT_DATABASE_URL,
    ]);
  });

  it('a crash of the checker is a failure (exit 1), and a missing admin.js says to build settlement', async () => {
    const { script } = fakeAdmin(`process.exitCode = 1;`);
    const crashed = await check({ CITYBASE_SETTLEMENT_ADMIN: script });
    expect(crashed.code).toBe(1);
    expect(crashed.err).toMatch(/check-ledger exited with code 1/);
    const missing = await check({ CITYBASE_SETTLEMENT_ADMIN: join(dir, 'nope.js') });
    expect(missing.code).toBe(1);
    expect(missing.err).toMatch(/npx nx run settlement:build/);
  });
});
