// `citybase` end to end: the built tool (bin/citybase.js -> dist/main.js) as an operator runs it,
// against the built identity service (its admin.js for init, the running process for the rest) and
// the real PostgreSQL and Kafka, and the built points service for `citybase points ...`. Build first:
// `npx nx run cli:int-test` builds cli, its libs, identity and points.
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  createTestDatabase,
  kafkaTestPrefix,
  REPO_ROOT,
  spawnService,
  TEST_IDENTITY_MASTER_KEY,
  testEndpoints,
  type ServiceProcess,
  type TestDatabase,
} from '@citybase/platform/testing';

const CLI = join(REPO_ROOT, 'tools', 'cli', 'bin', 'citybase.js');
const BUILT = [
  join(REPO_ROOT, 'tools', 'cli', 'dist', 'main.js'),
  join(REPO_ROOT, 'services', 'identity', 'dist', 'main.js'),
  join(REPO_ROOT, 'services', 'identity', 'dist', 'admin.js'),
  join(REPO_ROOT, 'services', 'points', 'dist', 'main.js'),
];

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function citybase(args: string[], env: Record<string, string>): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [CLI, ...args],
      { env: { PATH: process.env.PATH ?? '', ...env }, timeout: 90_000 },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

/** Runs a command that must succeed; returns its JSON output. */
async function ok(args: string[], env: Record<string, string>): Promise<Record<string, any>> {
  const run = await citybase(args, env);
  if (run.code !== 0) {
    throw new Error(
      `citybase ${args.join(' ')} exited ${run.code}\nstdout: ${run.stdout}\nstderr: ${run.stderr}`,
    );
  }
  return JSON.parse(run.stdout) as Record<string, any>;
}

const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{3,9})?Z$/;

describe('citybase (built) against identity', () => {
  let db: TestDatabase;
  let svc: ServiceProcess | undefined;
  let dir: string;
  let topicPrefix: string;
  let initEnv: Record<string, string>;
  let apiEnv: Record<string, string>;
  let adminFile: string;
  let admin: { client_id: string; client_secret: string };

  beforeAll(async () => {
    const missing = BUILT.filter((f) => !existsSync(f));
    if (missing.length > 0) {
      throw new Error(
        `not built: ${missing.join(', ')} (run npx nx run-many -t build -p cli identity points)`,
      );
    }
    dir = mkdtempSync(join(tmpdir(), 'citybase-cli-int-'));
    db = await createTestDatabase('cli');
    topicPrefix = kafkaTestPrefix('cli');
    initEnv = {
      DATABASE_URL: db.url,
      IDENTITY_MASTER_KEY: TEST_IDENTITY_MASTER_KEY,
      CITY_ID: 'test-city',
      KAFKA_TOPIC_PREFIX: topicPrefix,
      KAFKA_BROKERS: testEndpoints.kafkaBrokers().join(','),
      REDIS_URL: testEndpoints.redisUrl(),
    };
    adminFile = join(dir, 'admin.json');
  });

  let points: ServiceProcess | undefined;
  let pointsDb: TestDatabase | undefined;

  afterAll(async () => {
    await points?.stop();
    await pointsDb?.drop();
    await svc?.stop();
    await db?.drop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('init creates the first admin client, prints it once and saves it 0600', async () => {
    const run = await citybase(['init', '--name', 'Test city admin', '--save', adminFile], initEnv);
    expect({ code: run.code, stderr: run.stderr }).toEqual({ code: 0, stderr: expect.any(String) });
    const out = JSON.parse(run.stdout) as Record<string, string>;
    expect(out.client_id).toMatch(/^cb_[a-z2-7]{24}$/);
    expect(out.client_secret.length).toBeGreaterThanOrEqual(32);
    expect(out.saved_to).toBe(adminFile);
    expect(run.stderr).toMatch(/shown only this time/);
    admin = JSON.parse(readFileSync(adminFile, 'utf8')) as typeof admin;
    expect(admin).toEqual({ client_id: out.client_id, client_secret: out.client_secret });
    expect(statSync(adminFile).mode & 0o777).toBe(0o600);

    svc = await spawnService('identity', ({ httpPort }) => ({
      DATABASE_URL: db.url,
      AUTH_JWKS_URL: `http://127.0.0.1:${httpPort}/.well-known/jwks.json`,
      KAFKA_TOPIC_PREFIX: topicPrefix,
    }));
    await svc.ready();
    apiEnv = { CITYBASE_IDENTITY_URL: svc.httpUrl, CITYBASE_IDENTITY_GRPC: svc.grpcAddress };
  });

  it("a second init exits 1, passes on identity's reason and prints no secret", async () => {
    const otherFile = join(dir, 'second.json');
    const run = await citybase(['init', '--save', otherFile], initEnv);
    expect(run.code).toBe(1);
    expect(run.stdout).toBe('');
    expect(run.stderr).toMatch(/^admin\.js: .+/m);
    expect(run.stderr).toMatch(/citybase: init failed: identity admin init-city exited with code 1\n$/);
    expect(run.stderr).not.toContain('client_secret');
    expect(run.stderr).not.toContain(admin.client_secret);
    expect(run.stderr).not.toMatch(/shown only this time/);
    expect(existsSync(otherFile)).toBe(false);
  });

  let operatorId: string;
  let projectId: string;
  let appFile: string;
  let app: { client_id: string; client_secret: string };

  it('operator create / list with --credentials; a repeated --request-id is idempotent', async () => {
    const creds = ['--credentials', adminFile];
    const created = await ok(['operator', 'create', '--name', 'Sunshine Property', ...creds], apiEnv);
    expect(created).toEqual({
      request_id: expect.stringMatching(/^[0-9a-f-]{36}$/),
      operator: {
        operator_id: expect.any(String),
        name: 'Sunshine Property',
        created_at: expect.stringMatching(ISO),
      },
    });
    operatorId = created.operator.operator_id;

    const again = await ok(
      ['operator', 'create', '--name', 'Sunshine Property', '--request-id', created.request_id, ...creds],
      apiEnv,
    );
    expect(again.operator).toEqual(created.operator);

    const list = await ok(['operator', 'list', ...creds], apiEnv);
    expect(list.operators).toEqual([created.operator]);
  });

  it('project create / list; CITYBASE_CLIENT_ID/SECRET work as well as --credentials', async () => {
    const envCreds = {
      ...apiEnv,
      CITYBASE_CLIENT_ID: admin.client_id,
      CITYBASE_CLIENT_SECRET: admin.client_secret,
    };
    const created = await ok(
      ['project', 'create', '--operator', operatorId, '--name', 'Elm Court', '--kind', 'residential'],
      envCreds,
    );
    expect(created.project).toEqual({
      project_id: expect.any(String),
      operator_id: operatorId,
      name: 'Elm Court',
      kind: 'RESIDENTIAL',
      created_at: expect.stringMatching(ISO),
    });
    projectId = created.project.project_id;
    await ok(
      ['project', 'create', '--operator', operatorId, '--name', 'North Lot', '--kind', 'PARKING'],
      envCreds,
    );

    const list = await ok(['project', 'list', '--operator', operatorId], envCreds);
    expect(list.projects.map((p: { name: string; kind: string }) => [p.name, p.kind])).toEqual([
      ['Elm Court', 'RESIDENTIAL'],
      ['North Lot', 'PARKING'],
    ]);
  });

  it('client create prints the new secret once and saves it; that client gets a token and sees only its project', async () => {
    appFile = join(dir, 'elm-app.json');
    const args = [
      'client',
      'create',
      '--name',
      'Elm Court app',
      '--scope',
      'identity:tenancy.read',
      '--project',
      projectId,
    ];
    const run = await citybase([...args, '--save', appFile, '--credentials', adminFile], apiEnv);
    expect({ code: run.code, stderr: run.stderr }).toEqual({
      code: 0,
      stderr: expect.stringMatching(/shown only this time/),
    });
    const out = JSON.parse(run.stdout) as Record<string, any>;
    expect(out.client).toEqual({
      client_id: expect.stringMatching(/^cb_[a-z2-7]{24}$/),
      name: 'Elm Court app',
      scopes: ['identity:tenancy.read'],
      tenancy: { operator_ids: [], project_ids: [projectId] },
      status: 'ACTIVE',
      created_at: expect.stringMatching(ISO),
      secret_rotated_at: null,
      revoked_at: null,
      created_by_client_id: admin.client_id,
    });
    app = JSON.parse(readFileSync(appFile, 'utf8')) as typeof app;
    expect(app).toEqual({ client_id: out.client.client_id, client_secret: out.client_secret });
    expect(statSync(appFile).mode & 0o777).toBe(0o600);

    // The same request again with its --request-id: the same client, and no secret (shown once only).
    const envCreds = {
      ...apiEnv,
      CITYBASE_CLIENT_ID: admin.client_id,
      CITYBASE_CLIENT_SECRET: admin.client_secret,
    };
    const first = await ok(args, envCreds);
    expect(first.client_secret).toEqual(expect.any(String));
    const replay = await citybase([...args, '--request-id', first.request_id], envCreds);
    expect(replay.code).toBe(0);
    expect(JSON.parse(replay.stdout)).toMatchObject({
      request_id: first.request_id,
      client: { client_id: first.client.client_id },
      client_secret: null,
    });
    expect(replay.stderr).toMatch(/no secret in the answer/);
    expect(replay.stderr).not.toContain(first.client_secret);
    // A different request under a used key is refused, naming the status.
    const reused = await citybase(
      [...args.slice(0, 3), 'Other', ...args.slice(4), '--request-id', first.request_id],
      envCreds,
    );
    expect(reused.code).toBe(1);
    expect(reused.stderr).toMatch(/^citybase: ALREADY_EXISTS: .*request_id/);

    // Its credentials fetch a token from the real token endpoint...
    const res = await fetch(`${apiEnv.CITYBASE_IDENTITY_URL}/oauth/token`, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: `Basic ${Buffer.from(`${app.client_id}:${app.client_secret}`).toString('base64')}`,
      },
      body: 'grant_type=client_credentials',
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ token_type: 'Bearer', scope: 'identity:tenancy.read' });

    // ...and the tool works with them, inside the client's tenancy only.
    const list = await ok(['project', 'list', '--operator', operatorId, '--credentials', appFile], apiEnv);
    expect(list.projects.map((p: { project_id: string }) => p.project_id)).toEqual([projectId]);
  });

  it('a call beyond the scopes of the credentials: exit 1, PERMISSION_DENIED on one line', async () => {
    const run = await citybase(['operator', 'create', '--name', 'Nope', '--credentials', appFile], apiEnv);
    expect(run.code).toBe(1);
    expect(run.stdout).toBe('');
    expect(run.stderr).toMatch(/^citybase: PERMISSION_DENIED: .+\n$/);
    expect(run.stderr.split('\n')).toHaveLength(2);
  });

  it('client list, rotate-secret (old secret refused), revoke, keys rotate', async () => {
    const creds = ['--credentials', adminFile];
    const list = await ok(['client', 'list', ...creds], apiEnv);
    expect(list.clients.map((c: { client_id: string }) => c.client_id)).toEqual(
      expect.arrayContaining([admin.client_id, app.client_id]),
    );

    const rotatedFile = join(dir, 'elm-app-2.json');
    const rotated = await ok(
      ['client', 'rotate-secret', '--id', app.client_id, '--save', rotatedFile, ...creds],
      apiEnv,
    );
    expect(rotated.client.secret_rotated_at).toMatch(ISO);
    expect(rotated.client_secret).not.toBe(app.client_secret);
    const old = await citybase(['client', 'list', '--credentials', appFile], apiEnv);
    expect(old.code).toBe(1);
    expect(old.stderr).toMatch(/^citybase: token request refused \(HTTP 401 .*\): invalid_client/);
    await ok(['project', 'list', '--operator', operatorId, '--credentials', rotatedFile], apiEnv);

    const revoked = await ok(
      ['client', 'revoke', '--id', app.client_id, '--reason', 'test over', ...creds],
      apiEnv,
    );
    expect(revoked.client).toMatchObject({
      client_id: app.client_id,
      status: 'REVOKED',
      revoked_at: expect.stringMatching(ISO),
    });
    const afterRevoke = await citybase(
      ['project', 'list', '--operator', operatorId, '--credentials', rotatedFile],
      apiEnv,
    );
    expect(afterRevoke.code).toBe(1);
    expect(afterRevoke.stderr).toMatch(/^citybase: token request refused \(HTTP 401 .*\): invalid_client/);

    const keys = await ok(['keys', 'rotate', ...creds], apiEnv);
    expect(keys.key).toEqual({
      kid: expect.any(String),
      created_at: expect.stringMatching(ISO),
      retired_at: null,
    });
    expect(keys.published[0]).toEqual(keys.key);
    expect(keys.published.length).toBeGreaterThanOrEqual(2);
  });

  it('points programme set / get and budget set / get / list against the points service', async () => {
    const database = await createTestDatabase('cli_points');
    pointsDb = database;
    points = await spawnService('points', () => ({
      DATABASE_URL: database.url,
      AUTH_JWKS_URL: `${apiEnv.CITYBASE_IDENTITY_URL}/.well-known/jwks.json`,
      KAFKA_TOPIC_PREFIX: topicPrefix,
    }));
    await points.ready();
    const env = { ...apiEnv, CITYBASE_POINTS_GRPC: points.grpcAddress };
    const creds = ['--credentials', adminFile];

    const programme = await ok(
      [
        'points',
        'programme',
        'set',
        '--operator',
        operatorId,
        '--point-value',
        '1',
        '--lot-lifetime-days',
        '365',
        '--refund-window-hours',
        '168',
        '--shortfall-policy',
        'debt',
        '--tier',
        'Bronze:0:1000',
        '--tier',
        'Gold:5000:1500',
        '--tier-window-days',
        '365',
        ...creds,
      ],
      env,
    );
    expect(programme.programme).toMatchObject({
      operator_id: operatorId,
      point_value: { currency: 'CNY', amount_minor: '1' },
      shortfall_policy: 'DEBT',
      tiers: [
        { name: 'Bronze', threshold: '0', multiplier_permille: 1000 },
        { name: 'Gold', threshold: '5000', multiplier_permille: 1500 },
      ],
      updated_at: expect.stringMatching(ISO),
    });
    expect(
      (await ok(['points', 'programme', 'get', '--operator', operatorId, ...creds], env)).programme,
    ).toEqual(programme.programme);

    const period = ['--period', '2026-12'];
    await ok(['points', 'budget', 'set', ...period, '--allotted', '1000', ...creds], env);
    await ok(
      ['points', 'budget', 'set', ...period, '--operator', operatorId, '--allotted', '600', ...creds],
      env,
    );
    const project = ['--operator', operatorId, '--project', projectId];
    const set = await ok(
      ['points', 'budget', 'set', ...period, ...project, '--allotted', '400', ...creds],
      env,
    );
    expect(set.budget).toMatchObject({ level: 'PROJECT', allotted: '400', unallotted: '400' });
    expect(
      (await ok(['points', 'budget', 'get', ...period, '--operator', operatorId, ...creds], env)).budget,
    ).toMatchObject({ level: 'OPERATOR', allotted: '600', allotted_to_children: '400', subtree_issued: '0' });
    const list = await ok(['points', 'budget', 'list', ...period, ...creds], env);
    expect(
      list.budgets.map((b: { operator_id: string; allotted: string }) => [b.operator_id, b.allotted]),
    ).toEqual([[operatorId, '600']]);

    // beyond what the operator has left: exit 1, the service's refusal on one line
    const beyond = await citybase(
      ['points', 'budget', 'set', ...period, ...project, '--allotted', '601', ...creds],
      env,
    );
    expect(beyond.code).toBe(1);
    expect(beyond.stderr).toMatch(/^citybase: FAILED_PRECONDITION: .+\n$/);

    // earning rules, issuance (charged to the project's budget) and the balance
    const rule = await ok(
      [
        'points',
        'rule',
        'set',
        ...project,
        '--scenario',
        'parking',
        '--points-per-yuan',
        '2',
        '--daily-cap',
        '500',
        ...creds,
      ],
      env,
    );
    expect(rule.rule).toMatchObject({
      operator_id: operatorId,
      project_id: projectId,
      scenario: 'PARKING',
      points_per_yuan: 2,
      daily_cap: '500',
      updated_at: expect.stringMatching(ISO),
    });
    await ok(
      [
        'points',
        'rule',
        'set',
        '--operator',
        operatorId,
        '--scenario',
        'goods',
        '--points-per-yuan',
        '1',
        ...creds,
      ],
      env,
    );
    const rules = await ok(['points', 'rule', 'list', '--operator', operatorId, ...creds], env);
    expect(
      rules.rules.map((r: { project_id: string; scenario: string }) => [r.project_id, r.scenario]),
    ).toEqual([
      ['', 'GOODS'],
      [projectId, 'PARKING'],
    ]);
    const issueArgs = [
      'points',
      'issue',
      ...project,
      '--holder',
      'resident-1',
      '--points',
      '150',
      '--reason',
      'GOODWILL',
    ];
    const issued = await ok([...issueArgs, '--request-id', 'cli-issue-1', ...creds], env);
    expect(issued).toEqual({ request_id: 'cli-issue-1', lot_id: expect.any(String), available: '150' });
    // the same request id again: the same lot, nothing issued twice
    expect(await ok([...issueArgs, '--request-id', 'cli-issue-1', ...creds], env)).toEqual(issued);
    const balance = await ok(
      ['points', 'balance', '--operator', operatorId, '--holder', 'resident-1', ...creds],
      env,
    );
    expect(balance.balance).toMatchObject({
      holder_id: 'resident-1',
      available: '150',
      reserved: '0',
      pending: '0',
      debt: '0',
    });
    expect(
      (await ok(['points', 'budget', 'get', ...period, ...project, ...creds], env)).budget,
    ).toMatchObject({ issued: '150', unallotted: '250' });
    const noReason = await citybase(
      ['points', 'issue', ...project, '--holder', 'r', '--points', '1', '--reason', 'not a code', ...creds],
      env,
    );
    expect(noReason.code).toBe(1);
    expect(noReason.stderr).toMatch(/^citybase: INVALID_ARGUMENT: reason/);
  });
});
