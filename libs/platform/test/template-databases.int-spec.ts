import { randomBytes } from 'crypto';
import { mkdtempSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { Client } from 'pg';
import { MigrationSource } from '../src/db';
import { createServiceDatabase, ServiceDatabase, templateName, testEndpoints } from '../src/testing';

describe('createServiceDatabase: suites copy a template migrated once', () => {
  const admin = new Client({ connectionString: testEndpoints.postgresAdminUrl() });
  const created: ServiceDatabase[] = [];
  let dir: string;
  let sources: MigrationSource[];

  /** A migration set of its own per test (a random comment), so no earlier run's template exists. */
  const freshMigrations = (): MigrationSource[] => {
    dir = mkdtempSync(join(tmpdir(), 'citybase-tpl-'));
    writeFileSync(
      join(dir, '0001_create_things.sql'),
      `-- ${randomBytes(8).toString('hex')}\nCREATE TABLE things (id int PRIMARY KEY);\nINSERT INTO things VALUES (1);`,
    );
    return [{ namespace: 'tpltest', dir }];
  };
  const create = async (label: string, migrations = sources) => {
    const db = await createServiceDatabase(label, migrations);
    created.push(db);
    return db;
  };
  const query = async <T extends object>(url: string, sql: string): Promise<T[]> => {
    const c = new Client({ connectionString: url });
    await c.connect();
    try {
      return (await c.query<T>(sql)).rows;
    } finally {
      await c.end();
    }
  };
  const template = async (name: string) =>
    (
      await admin.query<{ datistemplate: boolean; datallowconn: boolean; sessions: number }>(
        `SELECT datistemplate, datallowconn,
                (SELECT count(*)::int FROM pg_stat_activity a WHERE a.datname = d.datname) AS sessions
           FROM pg_database d WHERE datname = $1`,
        [name],
      )
    ).rows[0];

  beforeAll(() => admin.connect());
  beforeEach(() => {
    sources = freshMigrations();
  });
  afterAll(async () => {
    for (const db of created) await db.drop();
    for (const name of new Set(created.map((d) => d.template))) {
      await admin.query(`ALTER DATABASE "${name}" WITH IS_TEMPLATE false`);
      await admin.query(`DROP DATABASE IF EXISTS "${name}"`);
    }
    await admin.end();
  });

  it('gives two suites two databases copied from one template, named after the service and its migrations', async () => {
    const a = await create('tpl_a');
    const b = await create('tpl_b');
    expect(a.template).toMatch(/^tpl_tpltest_[0-9a-f]{12}$/);
    expect(b.template).toBe(a.template);
    expect(a.template).toBe(templateName(sources));
    expect(a.name).not.toBe(b.name);
    for (const db of [a, b]) {
      expect(await query(db.url, 'SELECT id FROM things')).toEqual([{ id: 1 }]);
      expect(await query(db.url, 'SELECT namespace, version FROM schema_migrations')).toEqual([
        { namespace: 'tpltest', version: 1 },
      ]);
      expect(await query(db.url, 'SHOW synchronous_commit')).toEqual([{ synchronous_commit: 'off' }]);
    }
    // the copies are independent
    await query(a.url, 'INSERT INTO things VALUES (2)');
    expect(await query(b.url, 'SELECT id FROM things')).toEqual([{ id: 1 }]);
    // the template is marked ready and nobody is (or can be) connected to it
    expect(await template(a.template)).toEqual({ datistemplate: true, datallowconn: false, sessions: 0 });
  });

  it('names a new template when a migration is added or changed', async () => {
    const before = await create('tpl_c');
    writeFileSync(join(dir, '0002_more.sql'), 'CREATE TABLE more_things (id int);');
    const added = await create('tpl_d');
    expect(added.template).not.toBe(before.template);
    expect(await query(added.url, "SELECT to_regclass('more_things') IS NOT NULL AS ok")).toEqual([
      { ok: true },
    ]);
    writeFileSync(join(dir, '0002_more.sql'), 'CREATE TABLE other_things (id int);');
    const changed = await create('tpl_e');
    expect(changed.template).not.toBe(added.template);
    expect(changed.template).not.toBe(before.template);
    expect(await query(changed.url, "SELECT to_regclass('other_things') IS NOT NULL AS ok")).toEqual([
      { ok: true },
    ]);
  });

  it('lets concurrent creators (parallel suites and Jest processes) build the template once', async () => {
    const dbs = await Promise.all(Array.from({ length: 5 }, (_, i) => create(`tpl_p${i}`)));
    expect(new Set(dbs.map((d) => d.template)).size).toBe(1);
    expect(new Set(dbs.map((d) => d.name)).size).toBe(5);
    for (const db of dbs) expect(await query(db.url, 'SELECT id FROM things')).toEqual([{ id: 1 }]);
    expect(await template(dbs[0]!.template)).toEqual({
      datistemplate: true,
      datallowconn: false,
      sessions: 0,
    });
  });
});
