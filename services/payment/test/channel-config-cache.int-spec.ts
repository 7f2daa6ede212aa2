import { ChannelKind, PaymentScenario } from '@citybase/contracts/citybase/payment/v1/payment';
import { createLogger, createPool, Pool } from '@citybase/platform';
import {
  createTestDatabase,
  TestDatabase,
  TEST_PAYMENT_CREDENTIALS_KEY,
  waitFor,
} from '@citybase/platform/testing';
import { ChannelConfigCache } from '../src/channels/channel-config-cache';
import { ChannelAdapters } from '../src/channels/channel-adapters';
import { CredentialsCipher } from '../src/channels/channel-credentials';
import { ChannelRouter } from '../src/channels/channel-router';
import type { ChannelAdapter } from '../src/channels/channel-adapter';
import type { PaymentConfig } from '../src/config';
import { definition } from '../src/definition';
import { runMigrations } from '@citybase/platform';

/**
 * Each replica keeps the channel configuration in memory (ChannelConfigCache): a change committed
 * anywhere (another replica, an operator's SQL) reaches every replica through NOTIFY.
 */
describe('channel configuration held in memory, across replicas (real PostgreSQL)', () => {
  let db: TestDatabase;
  let pool: Pool;
  const cipher = CredentialsCipher.fromConfig(TEST_PAYMENT_CREDENTIALS_KEY);
  const adapters = new ChannelAdapters(new Map([[ChannelKind.CHANNEL_KIND_SANDBOX, {} as ChannelAdapter]]));
  const replicas: { cache: ChannelConfigCache; router: ChannelRouter }[] = [];
  const query = {
    operatorId: 'op-1',
    projectId: 'proj-1',
    scenario: PaymentScenario.PAYMENT_SCENARIO_PARKING,
    amountMinor: 500n,
  };
  const channelsOf = async (router: ChannelRouter) =>
    (await router.candidates(pool, { ...query, random: () => 0 })).map((c) => c.account.channelId);

  beforeAll(async () => {
    db = await createTestDatabase('payment_channel_cache');
    pool = createPool(db.url);
    await runMigrations(pool, definition.migrations);
    for (const id of ['ch-a', 'ch-b']) {
      await pool.query(
        `INSERT INTO channels (channel_id, kind, display_name, endpoint) VALUES ($1, $2, $1, 'http://127.0.0.1:9')`,
        [id, ChannelKind.CHANNEL_KIND_SANDBOX],
      );
      await pool.query(
        `INSERT INTO project_channels (operator_id, project_id, channel_id, merchant_no, credentials_enc, enabled)
         VALUES ('op-1', 'proj-1', $1, 'm-1', $2, true)`,
        [id, cipher.seal(`key-${id}`, { projectId: 'proj-1', channelId: id })],
      );
    }
    await pool.query(
      `INSERT INTO routing_rules (project_id, position, channel_id, priority, weight, min_amount_minor, max_amount_minor)
       VALUES ('proj-1', 0, 'ch-a', 0, 1, 0, 0)`,
    );
    const logger = createLogger('payment-test', 'warn');
    for (let i = 0; i < 2; i++) {
      const cache = new ChannelConfigCache({ DATABASE_URL: db.url } as PaymentConfig, logger);
      await cache.onApplicationBootstrap();
      replicas.push({ cache, router: new ChannelRouter(cipher, adapters, cache) });
    }
  });

  afterAll(async () => {
    for (const r of replicas) await r.cache.onModuleDestroy();
    await pool.end();
    await db.drop();
  });

  it('serves the configuration from memory, credentials decrypted, until a change committed elsewhere reaches every replica', async () => {
    const [one, two] = replicas as [(typeof replicas)[0], (typeof replicas)[0]];
    expect(one.cache.active && two.cache.active).toBe(true);
    expect(await channelsOf(one.router)).toEqual(['ch-a']);
    expect(await channelsOf(two.router)).toEqual(['ch-a']);
    const [first] = await one.router.candidates(pool, query);
    expect(first?.account.credentials).toBe('key-ch-a');

    // held in memory: a row changed without its NOTIFY reaching anyone (the trigger disabled for
    // this session) is not seen
    const silent = await pool.connect();
    try {
      await silent.query(`SET session_replication_role = replica`);
      await silent.query(`UPDATE routing_rules SET channel_id = 'ch-b' WHERE project_id = 'proj-1'`);
    } finally {
      await silent.query(`SET session_replication_role = DEFAULT`);
      silent.release();
    }
    expect(await channelsOf(two.router)).toEqual(['ch-a']);

    // a change committed through "replica one" (any connection): both see it
    await pool.query(`UPDATE project_channels SET enabled = false WHERE channel_id = 'ch-b'`);
    await waitFor('replica two sees the change', async () =>
      (await channelsOf(two.router)).length === 0 ? true : undefined,
    );
    await waitFor('replica one sees the change', async () =>
      (await channelsOf(one.router)).length === 0 ? true : undefined,
    );
  });

  it("drops what it holds on the replica's own change at once (forget after commit)", async () => {
    const [one] = replicas as [(typeof replicas)[0]];
    await pool.query(`UPDATE project_channels SET enabled = true WHERE channel_id = 'ch-b'`);
    await waitFor('enabled seen', async () =>
      (await channelsOf(one.router)).length === 1 ? true : undefined,
    );
    const silent = await pool.connect();
    try {
      await silent.query(`SET session_replication_role = replica`);
      await silent.query(`UPDATE routing_rules SET channel_id = 'ch-a' WHERE project_id = 'proj-1'`);
    } finally {
      await silent.query(`SET session_replication_role = DEFAULT`);
      silent.release();
    }
    expect(await channelsOf(one.router)).toEqual(['ch-b']);
    one.router.forget();
    expect(await channelsOf(one.router)).toEqual(['ch-a']);
  });

  it('reads the database every time while it is not listening', async () => {
    const logger = createLogger('payment-test', 'warn');
    const cache = new ChannelConfigCache({ DATABASE_URL: db.url } as PaymentConfig, logger);
    // never bootstrapped: no LISTEN connection
    const router = new ChannelRouter(cipher, adapters, cache);
    expect(cache.active).toBe(false);
    expect(await channelsOf(router)).toEqual(['ch-a']);
    const silent = await pool.connect();
    try {
      await silent.query(`SET session_replication_role = replica`);
      await silent.query(`UPDATE routing_rules SET channel_id = 'ch-b' WHERE project_id = 'proj-1'`);
    } finally {
      await silent.query(`SET session_replication_role = DEFAULT`);
      silent.release();
    }
    expect(await channelsOf(router)).toEqual(['ch-b']);
  });
});
