import { createPool, Pool, withTransaction } from '../src/db';
import { createTestDatabase, TestDatabase } from '../src/testing';

describe('prepared statements (real PostgreSQL)', () => {
  let db: TestDatabase;
  let pool: Pool;
  beforeAll(async () => {
    db = await createTestDatabase('prepared');
    pool = createPool(db.url, { max: 2 });
  });
  afterAll(async () => {
    await pool.end();
    await db.drop();
  });

  /** The statements the connection of `client` has prepared (pg_prepared_statements is per session). */
  const preparedOn = async (run: (q: Pool['query']) => Promise<unknown>) => {
    const client = await pool.connect();
    try {
      await run(client.query.bind(client) as Pool['query']);
      const { rows } = await client.query<{ name: string; statement: string }>(
        'SELECT name, statement FROM pg_prepared_statements',
      );
      return rows;
    } finally {
      client.release();
    }
  };

  it('prepares each parameterized text used again once per connection under a name, in every form node-pg takes', async () => {
    const text = 'SELECT $1::int + 1 AS n';
    const rows = await preparedOn(async (q) => {
      for (let i = 0; i < 3; i++) expect((await q(text, [i])).rows[0].n).toBe(i + 1);
      for (let i = 0; i < 2; i++) await q({ text: 'SELECT $1::text AS s', values: ['config form'] });
      await q('SELECT 42 AS unparameterized');
      await q('SELECT $1::int - 1 AS used_once', [1]);
    });
    const named = rows.filter((r) => r.name.startsWith('cb_'));
    expect(named.map((r) => r.statement).sort()).toEqual(['SELECT $1::int + 1 AS n', 'SELECT $1::text AS s']);
    // pool.query (node-pg's callback form inside pg-pool) too
    for (let i = 0; i < 3; i++)
      expect((await pool.query('SELECT $1::int * 2 AS n', [21])).rows[0].n).toBe(42);
    const all = await Promise.all([pool.connect(), pool.connect()]);
    try {
      const statements = await Promise.all(
        all.map(
          async (c) =>
            (await c.query<{ statement: string }>('SELECT statement FROM pg_prepared_statements')).rows,
        ),
      );
      expect(statements.flat().map((r) => r.statement)).toContain('SELECT $1::int * 2 AS n');
    } finally {
      for (const c of all) c.release();
    }
  });

  it('a migration changing the columns under a prepared statement: the next call prepares it afresh', async () => {
    await pool.query('CREATE TABLE widgets (id int PRIMARY KEY, label text)');
    await pool.query("INSERT INTO widgets VALUES (1, 'one')");
    const select = (db: Pool | Parameters<Parameters<typeof withTransaction>[1]>[0]) =>
      db.query('SELECT * FROM widgets WHERE id = $1', [1]);
    // prepared on both connections of the pool (a text is named from its second use on)
    const both = await Promise.all([pool.connect(), pool.connect()]);
    try {
      for (const c of both)
        for (let i = 0; i < 2; i++) expect((await select(c)).rows).toEqual([{ id: 1, label: 'one' }]);
    } finally {
      for (const c of both) c.release();
    }
    await pool.query("ALTER TABLE widgets ADD COLUMN colour text NOT NULL DEFAULT 'red'");
    // in a transaction: refused once (the plan's columns changed), retried by withTransaction
    const rows = await withTransaction(pool, async (client) => (await select(client)).rows);
    expect(rows).toEqual([{ id: 1, label: 'one', colour: 'red' }]);
    // and on any connection afterwards, under the new name
    for (let i = 0; i < 4; i++) expect((await select(pool)).rows).toEqual(rows);
  });
});
