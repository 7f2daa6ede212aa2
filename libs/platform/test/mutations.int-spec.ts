import { randomUUID } from 'node:crypto';
import type { PoolClient } from 'pg';
import { Pool } from 'pg';
import { PaymentEvents } from '@citybase/contracts/events';
import { PaymentScenario } from '@citybase/contracts/citybase/payment/v1/payment';
import {
  CITY_ADMIN_SCOPE,
  CitybaseClaims,
  createLogger,
  createPool,
  DomainError,
  enqueue,
  Mutation,
  Mutations,
  Outbox,
  platformMigrations,
  runMigrations,
} from '../src';
import { createTestDatabase, TestDatabase } from '../src/testing';

/** The use-case pipeline against the real PostgreSQL: one thing per request key, nothing half-written. */
describe('Mutations (the use-case pipeline, real PostgreSQL)', () => {
  let db: TestDatabase;
  let pool: Pool;
  let mutations: Mutations;
  const lines: Record<string, unknown>[] = [];

  const claims = (sub: string, tenancy: CitybaseClaims['tenancy'] = {}): CitybaseClaims =>
    ({
      sub,
      scope: Object.keys(tenancy).length ? [] : [CITY_ADMIN_SCOPE],
      tenancy,
    }) as unknown as CitybaseClaims;

  const count = async (sql: string) => (await pool.query<{ n: number }>(sql)).rows[0]!.n;

  beforeAll(async () => {
    db = await createTestDatabase('mutations');
    pool = createPool(db.url);
    await runMigrations(pool, [platformMigrations]);
    await pool.query(`CREATE TABLE things (
      thing_id text PRIMARY KEY, operator_id text NOT NULL, name text NOT NULL, version int NOT NULL DEFAULT 1)`);
    const outbox: Outbox = {
      enqueue: (client, type, payload, opts) =>
        enqueue(client, { city: 'test', service: 'payment', topicPrefix: 'unused.' }, type, payload, opts),
    };
    const logger = createLogger('test', 'info', {
      write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>),
    });
    mutations = new Mutations(pool, outbox, logger);
  });

  afterAll(async () => {
    await pool.end();
    await db.drop();
  });

  const readThing = async (client: PoolClient, id: string) =>
    (
      await client.query<{ thing_id: string; name: string; version: number }>(
        'SELECT thing_id, name, version FROM things WHERE thing_id = $1',
        [id],
      )
    ).rows[0]!;

  /** CreateThing: inserts a thing and its event; a retry answers the thing as it is now. */
  const createThing = (
    who: CitybaseClaims,
    requestId: string,
    name: string,
    opts: { failAfterInsert?: boolean; delayMs?: number; executions?: string[] } = {},
  ): Mutation<{ requestId: string; name: string }, { thing_id: string; name: string; version: number }> => ({
    method: 'ThingService.CreateThing',
    claims: who,
    requestId,
    command: { requestId, name },
    execute: async ({ client, resourceId, emit, note }) => {
      opts.executions?.push(resourceId);
      await client.query('INSERT INTO things (thing_id, operator_id, name) VALUES ($1, $2, $3)', [
        resourceId,
        'op-1',
        name,
      ]);
      await emit(
        PaymentEvents.PaymentCreated,
        {
          paymentId: resourceId,
          tenancy: { operatorId: 'op-1', projectId: '', merchantId: '' },
          merchantId: '',
          scenario: PaymentScenario.PAYMENT_SCENARIO_GOODS,
          amount: { currency: 'CNY', amountMinor: 1n },
          channel: 'sandbox',
          occurredAt: { seconds: 1n, nanos: 0 },
          checkoutId: '',
        },
        { key: resourceId },
      );
      if (opts.delayMs) await new Promise((r) => setTimeout(r, opts.delayMs));
      if (opts.failAfterInsert) throw DomainError.precondition('THING_REFUSED', 'refused after writing');
      note({ thing_name: name });
      return readThing(client, resourceId);
    },
    replay: ({ client, resourceId }) => readThing(client, resourceId),
  });

  it('executes a request once; the same key and request replay the resource as it is now', async () => {
    const who = claims(`client-${randomUUID()}`);
    const first = await mutations.runWithOutcome(createThing(who, 'r-1', 'lamp'));
    expect(first.replayed).toBe(false);
    await pool.query('UPDATE things SET version = 2 WHERE thing_id = $1', [first.result.thing_id]);
    const again = await mutations.runWithOutcome(createThing(who, 'r-1', 'lamp'));
    expect(again).toEqual({
      result: { ...first.result, version: 2 },
      replayed: true,
      resourceId: first.resourceId,
    });
    expect(await count(`SELECT count(*)::int AS n FROM things WHERE name = 'lamp'`)).toBe(1);
    expect(
      await count(`SELECT count(*)::int AS n FROM outbox WHERE partition_key = '${first.resourceId}'`),
    ).toBe(1);
    // one log line per mutation, naming the method, the key and whether it replayed
    const logged = lines.filter((l) => l.request_id === 'r-1' && l.client_id === who.sub);
    expect(logged.map((l) => [l.method, l.replayed, l.resource_id])).toEqual([
      ['ThingService.CreateThing', false, first.resourceId],
      ['ThingService.CreateThing', true, first.resourceId],
    ]);
    expect(logged[0]!.thing_name).toBe('lamp');
  });

  it('refuses the same key with a different request (REQUEST_ID_REUSED) and writes nothing', async () => {
    const who = claims(`client-${randomUUID()}`);
    await mutations.run(createThing(who, 'r-2', 'chair'));
    const err = await mutations.run(createThing(who, 'r-2', 'table')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DomainError);
    expect((err as DomainError).code).toBe('REQUEST_ID_REUSED');
    expect(await count(`SELECT count(*)::int AS n FROM things WHERE name = 'table'`)).toBe(0);
  });

  it('keeps request ids apart per calling client and per method', async () => {
    const a = claims(`client-${randomUUID()}`);
    const b = claims(`client-${randomUUID()}`);
    const x = await mutations.run(createThing(a, 'same', 'desk-a'));
    const y = await mutations.run(createThing(b, 'same', 'desk-b'));
    const z = await mutations.run({ ...createThing(a, 'same', 'desk-a'), method: 'ThingService.CopyThing' });
    expect(new Set([x.thing_id, y.thing_id, z.thing_id]).size).toBe(3);
  });

  it('rolls back everything, the key included, when the use case refuses; a retry then executes', async () => {
    const who = claims(`client-${randomUUID()}`);
    const err = await mutations
      .run(createThing(who, 'r-3', 'vase', { failAfterInsert: true }))
      .catch((e: unknown) => e);
    expect((err as DomainError).code).toBe('THING_REFUSED');
    expect(await count(`SELECT count(*)::int AS n FROM things WHERE name = 'vase'`)).toBe(0);
    expect(
      await count(`SELECT count(*)::int AS n FROM idempotency_keys WHERE client_id = '${who.sub}'`),
    ).toBe(0);
    const ok = await mutations.runWithOutcome(createThing(who, 'r-3', 'vase'));
    expect(ok.replayed).toBe(false);
  });

  it('20 concurrent duplicates execute once; every caller gets the same resource', async () => {
    const who = claims(`client-${randomUUID()}`);
    const executions: string[] = [];
    const results = await Promise.all(
      Array.from({ length: 20 }, () =>
        mutations.runWithOutcome(createThing(who, 'r-4', 'bench', { delayMs: 50, executions })),
      ),
    );
    expect(await count(`SELECT count(*)::int AS n FROM things WHERE name = 'bench'`)).toBe(1);
    expect(new Set(results.map((r) => r.result.thing_id)).size).toBe(1);
    expect(results.filter((r) => !r.replayed)).toHaveLength(1);
    expect(executions).toHaveLength(1);
  });

  it('checks the target row against the caller tenancy: foreign is NOT_FOUND and nothing is written', async () => {
    const id = randomUUID();
    await pool.query(`INSERT INTO things (thing_id, operator_id, name) VALUES ($1, 'op-1', 'sofa')`, [id]);
    const rename = (
      who: CitybaseClaims,
      requestId: string,
      thingId: string,
      outsideTenancy?: 'not-found' | 'forbidden',
    ) =>
      mutations.run({
        method: 'ThingService.RenameThing',
        claims: who,
        requestId,
        command: { thingId, name: 'couch' },
        resourceId: thingId,
        target: {
          load: async (client) =>
            (
              await client.query<{ thing_id: string; operator_id: string }>(
                'SELECT thing_id, operator_id FROM things WHERE thing_id = $1 FOR UPDATE',
                [thingId],
              )
            ).rows[0],
          tenancy: (row) => ({ operatorId: row.operator_id }),
          notFound: () => DomainError.notFound('thing', thingId, 'THING_NOT_FOUND'),
          outsideTenancy,
        },
        execute: async ({ client, target }) => {
          await client.query(`UPDATE things SET name = 'couch' WHERE thing_id = $1`, [target.thing_id]);
          return readThing(client, target.thing_id);
        },
        replay: ({ client, resourceId }) => readThing(client, resourceId),
      });
    const foreigner = claims(`client-${randomUUID()}`, { operators: ['op-2'] });
    for (const thingId of [id, randomUUID()]) {
      const err = await rename(foreigner, `f-${thingId}`, thingId).catch((e: unknown) => e);
      expect((err as DomainError).code).toBe('THING_NOT_FOUND');
    }
    // where the RPC's contract says so, a foreign row is PERMISSION_DENIED (a missing one NOT_FOUND)
    const forbidden = await rename(foreigner, 'f-forbidden', id, 'forbidden').catch((e: unknown) => e);
    expect((forbidden as DomainError).code).toBe('TENANCY_FORBIDDEN');
    const missing = await rename(foreigner, 'f-missing', randomUUID(), 'forbidden').catch((e: unknown) => e);
    expect((missing as DomainError).code).toBe('THING_NOT_FOUND');
    expect(
      await count(`SELECT count(*)::int AS n FROM idempotency_keys WHERE client_id = '${foreigner.sub}'`),
    ).toBe(0);
    expect((await pool.query(`SELECT name FROM things WHERE thing_id = $1`, [id])).rows[0].name).toBe('sofa');
    const owner = claims(`client-${randomUUID()}`, { operators: ['op-1'] });
    expect((await rename(owner, 'o-1', id)).name).toBe('couch');
  });
});
