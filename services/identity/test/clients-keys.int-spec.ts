import {
  type CitybaseClaims,
  createLogger,
  createPool,
  enqueue,
  importJwks,
  Mutations,
  type Outbox,
  type Pool,
  signJwt,
  verifyJwt,
  withTransaction,
} from '@citybase/platform';
import {
  createServiceDatabase,
  type TestDatabase,
  TEST_IDENTITY_MASTER_KEY,
} from '@citybase/platform/testing';
import { IdentityEvents } from '@citybase/contracts/events';
import type { IdentityConfig } from '../src/config';
import { definition } from '../src/definition';
import { KeyRing } from '../src/clients/keys/key-ring';
import { SigningKeyWrap } from '../src/clients/keys/key-wrap';
import { KEY_RECHECK_MS, RETIRED_KEY_GRACE_SECONDS } from '../src/clients/keys/signing-keys.domain';
import { SigningKeysService } from '../src/clients/keys/signing-keys.service';
import { ensureSigningKeys } from '../src/clients/keys/signing-keys.store';

/**
 * The signing key set against a real PostgreSQL, several "replicas" (KeyRing instances, separate
 * pools) at once: what the single-process suite cannot show.
 */
describe('identity signing keys: concurrency and replicas (real PostgreSQL)', () => {
  const TTL = 600;
  let db: TestDatabase;
  const pools: Pool[] = [];
  const wrap = new SigningKeyWrap(Buffer.from(TEST_IDENTITY_MASTER_KEY, 'base64'));
  const config = { TOKEN_TTL_SECONDS: TTL } as IdentityConfig;
  const logger = createLogger('identity-keys-test', 'silent');
  const admin: CitybaseClaims = {
    sub: 'cb_aaaaaaaaaaaaaaaaaaaaaaaa',
    scope: 'city:admin identity:keys.rotate',
    city: 'test-city',
    tenancy: {},
    iat: 0,
    exp: 0,
    jti: 'x',
  };

  const pool = () => {
    const p = createPool(db.url, { max: 10 });
    pools.push(p);
    return p;
  };
  const replica = (p: Pool) => {
    const ring = new KeyRing(p, wrap, config, logger);
    const outbox: Outbox = {
      enqueue: (client, type, payload, opts) =>
        enqueue(client, { city: 'test-city', service: 'identity' }, type, payload, opts),
    };
    return { ring, service: new SigningKeysService(p, new Mutations(p, outbox, logger), wrap, ring) };
  };
  const states = async (p: Pool) =>
    (
      await p.query<{ state: string; n: number }>(
        `SELECT state, count(*)::int AS n FROM signing_keys GROUP BY state ORDER BY state`,
      )
    ).rows;

  beforeAll(async () => {
    db = await createServiceDatabase('identity-keys', definition.migrations);
  });

  afterAll(async () => {
    await Promise.all(pools.map((p) => p.end()));
    await db?.drop();
  });

  it('several processes starting at once create exactly one current and one next key', async () => {
    const starters = Array.from({ length: 6 }, () => pool());
    await Promise.all(starters.map((p) => withTransaction(p, (c) => ensureSigningKeys(c, wrap))));
    expect(await states(starters[0] as Pool)).toEqual([
      { state: 'current', n: 1 },
      { state: 'next', n: 1 },
    ]);
    // and the rings of all of them agree on the signing key
    const rings = starters.map((p) => replica(p).ring);
    await Promise.all(rings.map((r) => r.onModuleInit()));
    const kids = new Set(await Promise.all(rings.map(async (r) => (await r.signingKey()).kid)));
    expect(kids.size).toBe(1);
  });

  it('a replica picks up a rotation made by another within the recheck interval', async () => {
    const a = replica(pool());
    const b = replica(pool());
    await a.ring.onModuleInit();
    await b.ring.onModuleInit();
    const before = await b.ring.signingKey();
    const jwksBefore = await b.ring.jwks();

    const { key } = await a.service.rotate(admin, 'replica-rotation');
    expect(jwksBefore.keys.map((k) => k.kid)).toContain(key.kid); // pre-published
    expect((await a.ring.signingKey()).kid).toBe(key.kid); // the rotating replica at once

    await new Promise((r) => setTimeout(r, KEY_RECHECK_MS + 200));
    const after = await b.ring.signingKey();
    expect(after.kid).toBe(key.kid);
    const jwks = await b.ring.jwks();
    expect(jwks.keys.map((k) => k.kid)).toEqual(expect.arrayContaining([key.kid, before.kid]));
    expect(jwks.keys).toHaveLength(3);

    // a token B signs now, and one it signed before, both verify against B's published keys
    const resolver = importJwks(jwks);
    const exp = Math.floor(Date.now() / 1000) + 60;
    for (const signer of [before, after]) {
      const token = await signJwt({ sub: 'x', exp }, { privateKey: signer.privateKey, kid: signer.kid });
      await expect(verifyJwt(token, resolver)).resolves.toMatchObject({ sub: 'x' });
    }
  });

  it('prunes a retired key from the JWKS once its tokens have expired', async () => {
    const { ring } = replica(pool());
    await ring.onModuleInit();
    const published = await ring.published();
    const retired = published.filter((k) => k.state === 'retired');
    expect(retired.length).toBeGreaterThan(0);
    const lifetimeMs = (TTL + RETIRED_KEY_GRACE_SECONDS) * 1000;
    const newest = Math.max(...retired.map((k) => k.retiredAt?.getTime() ?? 0));
    expect((await ring.published(new Date(newest + lifetimeMs - 1000))).length).toBe(published.length);
    const later = await ring.published(new Date(newest + lifetimeMs));
    expect(later.map((k) => k.state)).toEqual(['current', 'next']);

    // and a process loading later does not even read it
    const p = pool();
    await p.query(
      `UPDATE signing_keys SET retired_at = now() - make_interval(secs => $1) WHERE state = 'retired'`,
      [TTL + RETIRED_KEY_GRACE_SECONDS + 1],
    );
    const fresh = replica(p).ring;
    await fresh.onModuleInit();
    expect((await fresh.jwks()).keys).toHaveLength(2);
  });

  it('concurrent rotations take turns; a repeated request id rotates once', async () => {
    const replicas = Array.from({ length: 3 }, () => replica(pool()));
    await Promise.all(replicas.map((r) => r.ring.onModuleInit()));
    const p = pools[0] as Pool;
    const retiredBefore = (await states(p)).find((s) => s.state === 'retired')?.n ?? 0;
    const eventsBefore = await p.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM outbox WHERE event_type = $1`,
      [IdentityEvents.SigningKeyRotated.type],
    );

    const distinct = await Promise.all(replicas.map((r, i) => r.service.rotate(admin, `concurrent-${i}`)));
    expect(new Set(distinct.map((d) => d.key.kid)).size).toBe(3);
    const same = await Promise.all(replicas.map((r) => r.service.rotate(admin, 'same-request')));
    expect(new Set(same.map((d) => d.key.kid)).size).toBe(1);

    expect(await states(p)).toEqual([
      { state: 'current', n: 1 },
      { state: 'next', n: 1 },
      { state: 'retired', n: retiredBefore + 4 },
    ]);
    const events = await p.query<{ payload: Buffer }>(
      `SELECT payload FROM outbox WHERE event_type = $1 ORDER BY id`,
      [IdentityEvents.SigningKeyRotated.type],
    );
    expect(events.rows.length - (eventsBefore.rows[0]?.n ?? 0)).toBe(4);
    // each rotation retired the key the previous one made current: one unbroken chain
    const chain = events.rows.map((r) => IdentityEvents.SigningKeyRotated.codec.decode(r.payload));
    for (let i = 1; i < chain.length; i++) expect(chain[i]?.previousKid).toBe(chain[i - 1]?.kid);
    const leaked = await p.query(
      `SELECT 1 FROM signing_keys WHERE state = 'retired' AND private_key_enc IS NOT NULL`,
    );
    expect(leaked.rowCount).toBe(0);
  });
});
