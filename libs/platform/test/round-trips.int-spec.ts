import { Registry } from 'prom-client';
import type { Pool } from 'pg';
import { createPool, inDbStage, registerRoundTripMetric, roundTripCounts, withTransaction } from '../src';
import { createTestDatabase, TestDatabase } from '../src/testing';

/** Round trips by stage, against the real PostgreSQL, with more callers than pool connections. */
describe('database round trips by stage', () => {
  let db: TestDatabase;
  let pool: Pool;

  beforeAll(async () => {
    db = await createTestDatabase('round_trips');
    pool = createPool(db.url, { max: 2 });
  });
  afterAll(async () => {
    await pool.end();
    await db.drop();
  });

  it('counts each query under the stage of its caller, also when it waited for a pooled connection', async () => {
    const before = roundTripCounts();
    const delta = (stage: string) => (roundTripCounts()[stage] ?? 0) - (before[stage] ?? 0);
    // 3 stages x 6 callers on 2 connections: most pool.query calls wait for a connection another stage releases
    await Promise.all(
      ['rt_a', 'rt_b', 'rt_c'].flatMap((stage) =>
        Array.from({ length: 6 }, () =>
          inDbStage(stage, async () => {
            await pool.query('SELECT pg_sleep(0.005)');
            await withTransaction(pool, (client) => client.query('SELECT 1')); // BEGIN, SELECT, COMMIT
          }),
        ),
      ),
    );
    await pool.query('SELECT 1');
    expect([delta('rt_a'), delta('rt_b'), delta('rt_c')]).toEqual([24, 24, 24]);
    expect(delta('other')).toBeGreaterThanOrEqual(1);
  });

  it('serves the counts on /metrics as db_round_trips_total{stage}', async () => {
    const registry = new Registry();
    registerRoundTripMetric(registry);
    registerRoundTripMetric(registry); // once per registry
    await inDbStage('rt_metric', () => pool.query('SELECT 1'));
    expect(await registry.metrics()).toMatch(/^db_round_trips_total\{stage="rt_metric"\} 1$/m);
  });
});
