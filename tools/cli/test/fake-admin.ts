// Stand-ins for the services' admin scripts (CITYBASE_IDENTITY_ADMIN, CITYBASE_SETTLEMENT_ADMIN),
// shared by the unit specs of the commands that run them.
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Io } from '../src/io';
import { cli } from '../src/main';

export interface FakeAdmin {
  /** The stand-in admin.js, to point CITYBASE_*_ADMIN at. */
  script: string;
  /** Whether the script ran at all. */
  ran(): boolean;
  /** The arguments and environment its (last) run was given. */
  seen(): { argv: string[]; env: Record<string, string> };
}

/**
 * A fresh folder for each test of the calling file (made before each, removed after each), for
 * stand-in admin scripts and whatever else a test writes.
 */
export function scratchFolder(label: string): {
  path(name: string): string;
  /** A stand-in admin.js in the folder: records its argv and env, then runs `body`. */
  fakeAdmin(body: string): FakeAdmin;
} {
  let dir = '';
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), `citybase-${label}-`));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));
  return {
    path: (name) => join(dir, name),
    fakeAdmin(body) {
      const script = join(dir, 'admin.js');
      const record = join(dir, 'record.json');
      writeFileSync(
        script,
        `require('fs').writeFileSync(${JSON.stringify(record)}, JSON.stringify({ argv: process.argv.slice(2), env: process.env }));\n${body}\n`,
      );
      return {
        script,
        ran: () => existsSync(record),
        seen: () =>
          JSON.parse(readFileSync(record, 'utf8')) as { argv: string[]; env: Record<string, string> },
      };
    },
  };
}

/** Runs the CLI in-process with `args` and the environment `env`; resolves with its exit code and output. */
export async function runCli(
  args: string[],
  env: Record<string, string | undefined>,
): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const io: Io = { out: (t) => out.push(t), err: (t) => err.push(t), env };
  const code = await cli(args, io);
  return { code, out: out.join(''), err: err.join('') };
}
