import { mkdtempSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { Pool } from 'pg';
import { createPool, runMigrations } from '../src/db';
import { createTestDatabase, TestDatabase } from '../src/testing';

describe('runMigrations (real PostgreSQL)', () => {
  let db: TestDatabase;
  let pool: Pool;
  let dir: string;

  beforeEach(async () => {
    db = await createTestDatabase('migrations');
    pool = createPool(db.url);
    dir = mkdtempSync(join(tmpdir(), 'citybase-mig-'));
    writeFileSync(
      join(dir, '0001_create_things.sql'),
      'CREATE TABLE things (id bigint PRIMARY KEY, name text NOT NULL);',
    );
    writeFileSync(join(dir, '0002_seed_things.sql'), "INSERT INTO things VALUES (1, 'first');");
  });

  afterEach(async () => {
    await pool.end();
    await db.drop();
  });

  it('applies each migration once and only once', async () => {
    const first = await runMigrations(pool, [{ namespace: 'svc', dir }]);
    expect(first.applied.map((m) => m.version)).toEqual([1, 2]);
    const second = await runMigrations(pool, [{ namespace: 'svc', dir }]);
    expect(second).toEqual({ applied: [], alreadyApplied: 2 });
    // the seed ran once: a second run would have failed on the primary key or doubled rows
    expect((await pool.query('SELECT count(*)::int AS n FROM things')).rows[0].n).toBe(1);

    writeFileSync(join(dir, '0003_more.sql'), "INSERT INTO things VALUES (2, 'second');");
    const third = await runMigrations(pool, [{ namespace: 'svc', dir }]);
    expect(third.applied.map((m) => m.name)).toEqual(['more']);
  });

  it('lets concurrent runners (replicas starting together) apply everything exactly once', async () => {
    const results = await Promise.all(
      Array.from({ length: 5 }, () => runMigrations(pool, [{ namespace: 'svc', dir }])),
    );
    expect(results.reduce((n, r) => n + r.applied.length, 0)).toBe(2);
    expect((await pool.query('SELECT count(*)::int AS n FROM schema_migrations')).rows[0].n).toBe(2);
  });

  it('keeps namespaces apart', async () => {
    const other = mkdtempSync(join(tmpdir(), 'citybase-mig-'));
    writeFileSync(join(other, '0001_other.sql'), 'CREATE TABLE other_things (id int);');
    const r = await runMigrations(pool, [
      { namespace: 'platform', dir: other },
      { namespace: 'svc', dir },
    ]);
    expect(r.applied.map((m) => `${m.namespace}/${m.version}`)).toEqual(['platform/1', 'svc/1', 'svc/2']);
  });

  it('rolls a failing migration back completely and records nothing for it', async () => {
    writeFileSync(
      join(dir, '0003_broken.sql'),
      'CREATE TABLE half (id int); INSERT INTO nowhere VALUES (1);',
    );
    await expect(runMigrations(pool, [{ namespace: 'svc', dir }])).rejects.toThrow(
      /svc\/3_broken failed: relation "nowhere" does not exist/,
    );
    const tables = await pool.query("SELECT to_regclass('half') AS t");
    expect(tables.rows[0].t).toBeNull();
    const versions = await pool.query('SELECT version FROM schema_migrations ORDER BY version');
    expect(versions.rows.map((r) => r.version)).toEqual([1, 2]);
  });

  it('refuses a migration that was edited after it was applied', async () => {
    await runMigrations(pool, [{ namespace: 'svc', dir }]);
    writeFileSync(join(dir, '0002_seed_things.sql'), "INSERT INTO things VALUES (1, 'edited');");
    await expect(runMigrations(pool, [{ namespace: 'svc', dir }])).rejects.toThrow(
      /svc\/2_seed_things was changed after it was applied/,
    );
  });

  it('accepts an edited migration only when it declares the checksum it replaces, once', async () => {
    await runMigrations(pool, [{ namespace: 'svc', dir }]);
    const before = (
      await pool.query<{ checksum: string }>(
        "SELECT checksum FROM schema_migrations WHERE namespace = 'svc' AND version = 2",
      )
    ).rows[0]!.checksum;
    const edited = `-- replaces-checksum: ${before}\nSELECT 1;`;
    writeFileSync(join(dir, '0002_seed_things.sql'), edited);
    const r = await runMigrations(pool, [{ namespace: 'svc', dir }]);
    // accepted without running the new text; the stored checksum is now the new one
    expect(r).toEqual({ applied: [], alreadyApplied: 2 });
    const after = (
      await pool.query<{ checksum: string }>(
        "SELECT checksum FROM schema_migrations WHERE namespace = 'svc' AND version = 2",
      )
    ).rows[0]!.checksum;
    expect(after).not.toBe(before);
    // a further edit that does not declare the current checksum is refused
    writeFileSync(join(dir, '0002_seed_things.sql'), `${edited}\nSELECT 2;`);
    await expect(runMigrations(pool, [{ namespace: 'svc', dir }])).rejects.toThrow(
      /svc\/2_seed_things was changed after it was applied/,
    );
  });

  it('rejects badly named or gapped migration files before touching the database', async () => {
    writeFileSync(join(dir, '0004_gap.sql'), 'SELECT 1;');
    await expect(runMigrations(pool, [{ namespace: 'svc', dir }])).rejects.toThrow(
      /expected version 3 but found 4/,
    );
    expect((await pool.query("SELECT to_regclass('things') AS t")).rows[0].t).toBeNull();
  });
});
