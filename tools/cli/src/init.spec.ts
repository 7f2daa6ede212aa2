// `citybase init` against stand-in admin scripts (CITYBASE_IDENTITY_ADMIN): what the tool does with
// the child's output, exit code and environment. The real admin.js is exercised by test/cli.int-spec.ts.
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runCli, scratchFolder } from '../test/fake-admin';
import { DEFAULT_IDENTITY_DATABASE_URL, REPO_ROOT, adminScriptPath, credentialsLine } from './init';

const scratch = scratchFolder('init');
const runInit = (env: Record<string, string | undefined>, ...args: string[]) =>
  runCli(['init', ...args], env);

const PRINTS_CREDENTIALS = `process.stdout.write(JSON.stringify({ client_id: 'cb_admin', client_secret: 'first-secret' }) + '\\n');`;

describe('citybase init', () => {
  it('runs admin.js init-city with the name and the environment, prints the credentials once with a warning', async () => {
    const { script, seen } = scratch.fakeAdmin(PRINTS_CREDENTIALS);
    const res = await runInit(
      { CITYBASE_IDENTITY_ADMIN: script, IDENTITY_MASTER_KEY: 'k', CITY_ID: 'c', PATH: process.env.PATH },
      '--name',
      'Ops admin',
    );
    expect(res.code).toBe(0);
    expect(JSON.parse(res.out)).toEqual({ client_id: 'cb_admin', client_secret: 'first-secret' });
    expect(res.err).toMatch(/secret above is shown only this time/);
    const { argv, env } = seen();
    expect(argv).toEqual(['init-city', '--name', 'Ops admin']);
    expect(env).toMatchObject({
      IDENTITY_MASTER_KEY: 'k',
      CITY_ID: 'c',
      DATABASE_URL: DEFAULT_IDENTITY_DATABASE_URL,
    });
  });

  it('default name "City admin"; DATABASE_URL from the environment is kept', async () => {
    const { script, seen } = scratch.fakeAdmin(PRINTS_CREDENTIALS);
    const res = await runInit({ CITYBASE_IDENTITY_ADMIN: script, DATABASE_URL: 'postgres://db/x' });
    expect(res.code).toBe(0);
    const { argv, env } = seen();
    expect(argv).toEqual(['init-city', '--name', 'City admin']);
    expect(env.DATABASE_URL).toBe('postgres://db/x');
  });

  it('--save writes the credentials to a new 0600 file', async () => {
    const { script } = scratch.fakeAdmin(PRINTS_CREDENTIALS);
    const file = scratch.path('admin.json');
    const res = await runInit({ CITYBASE_IDENTITY_ADMIN: script }, '--save', file);
    expect(res.code).toBe(0);
    expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual({
      client_id: 'cb_admin',
      client_secret: 'first-secret',
    });
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(JSON.parse(res.out)).toEqual({
      client_id: 'cb_admin',
      client_secret: 'first-secret',
      saved_to: file,
    });
  });

  it('--save onto an existing file refuses before running the admin', async () => {
    const { script, ran } = scratch.fakeAdmin(PRINTS_CREDENTIALS);
    const file = scratch.path('taken.json');
    writeFileSync(file, 'old');
    const res = await runInit({ CITYBASE_IDENTITY_ADMIN: script }, '--save', file);
    expect(res.code).toBe(1);
    expect(res.err).toMatch(/refusing to overwrite existing file/);
    expect(res.out).toBe('');
    expect(readFileSync(file, 'utf8')).toBe('old');
    expect(ran()).toBe(false);
  });

  it('already initialised: the admin stderr is passed on, exit 1, no secret anywhere', async () => {
    const { script } = scratch.fakeAdmin(
      `process.stderr.write('admin.js: the city already has an active bootstrap admin\\n'); process.exitCode = 1;`,
    );
    const res = await runInit({ CITYBASE_IDENTITY_ADMIN: script });
    expect(res.code).toBe(1);
    expect(res.out).toBe('');
    expect(res.err).toContain('admin.js: the city already has an active bootstrap admin\n');
    expect(res.err).toMatch(/citybase: init failed: identity admin init-city exited with code 1\n$/);
    expect(res.err).not.toMatch(/secret above/);
  });

  it('other exit codes and signals are failures (exit 1)', async () => {
    let { script } = scratch.fakeAdmin('process.exit(3);');
    let res = await runInit({ CITYBASE_IDENTITY_ADMIN: script });
    expect(res.code).toBe(1);
    expect(res.err).toMatch(/exited with code 3/);
    ({ script } = scratch.fakeAdmin(`process.kill(process.pid, 'SIGKILL');`));
    res = await runInit({ CITYBASE_IDENTITY_ADMIN: script });
    expect(res.code).toBe(1);
    expect(res.err).toMatch(/was killed by SIGKILL/);
  });

  it('log lines on the admin stdout go to stderr; our stdout holds only the result', async () => {
    const { script } = scratch.fakeAdmin(
      `console.log(JSON.stringify({ level: 30, msg: 'migration applied' })); console.log('plain log'); ${PRINTS_CREDENTIALS}`,
    );
    const res = await runInit({ CITYBASE_IDENTITY_ADMIN: script });
    expect(res.code).toBe(0);
    expect(JSON.parse(res.out)).toEqual({ client_id: 'cb_admin', client_secret: 'first-secret' });
    expect(res.err).toContain('migration applied');
    expect(res.err).toContain('plain log');
    expect(res.err).not.toContain('first-secret');
  });

  it('exit 0 without credentials is a failure', async () => {
    const { script } = scratch.fakeAdmin(`console.log('done');`);
    const res = await runInit({ CITYBASE_IDENTITY_ADMIN: script });
    expect(res.code).toBe(1);
    expect(res.err).toMatch(/exited 0 but printed no client_id\/client_secret/);
    expect(res.out).toBe('');
  });

  it('a missing admin.js says to build identity', async () => {
    const res = await runInit({ CITYBASE_IDENTITY_ADMIN: scratch.path('nope.js') });
    expect(res.code).toBe(1);
    expect(res.err).toMatch(/identity admin entry point not found at .*nope\.js: build identity first/);
  });

  it('by default uses services/identity/dist/admin.js of this checkout', () => {
    expect(adminScriptPath({})).toBe(join(REPO_ROOT, 'services', 'identity', 'dist', 'admin.js'));
    expect(readFileSync(join(REPO_ROOT, 'tools', 'cli', 'package.json'), 'utf8')).toContain(
      '"@citybase/cli"',
    );
  });
});

describe('credentialsLine', () => {
  it.each([
    ['{"client_id":"a","client_secret":"b"}', { client_id: 'a', client_secret: 'b' }],
    ['  {"client_id":"a","client_secret":"b","x":1}  ', { client_id: 'a', client_secret: 'b' }],
    ['{"client_id":"a"}', undefined],
    ['{"client_id":"","client_secret":"b"}', undefined],
    ['{"client_id":1,"client_secret":"b"}', undefined],
    ['{not json', undefined],
    ['client_id=a', undefined],
  ])('%s', (line, expected) => {
    expect(credentialsLine(line)).toEqual(expected);
  });
});
