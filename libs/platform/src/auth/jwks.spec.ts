import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { createServer, Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { InfrastructureError } from '../errors';
import { AuthError } from './auth-error';
import {
  generateSigningKey,
  importJwks,
  JwksCache,
  JwksCacheOptions,
  jwkThumbprint,
  PublicJwk,
  SigningKey,
  toJwks,
} from './jwks';
import { signJwt, verifyJwt } from './jwt';

/** A JWKS endpoint on 127.0.0.1 whose document and status the test changes; counts requests. */
class FakeIdentity {
  requests = 0;
  status = 200;
  hang = false;
  doc: unknown = { keys: [] };
  private readonly server: Server = createServer((_req, res) => {
    this.requests += 1;
    if (this.hang) return; // never answers: the client must time out
    res.writeHead(this.status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(this.doc));
  });
  url = '';

  async start(): Promise<void> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/.well-known/jwks.json`;
  }

  publish(...keys: SigningKey[]): void {
    this.doc = toJwks(keys.map((k) => k.publicJwk));
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

/** A clock the test moves by hand (milliseconds). */
function manualClock(start = 1_000_000) {
  let t = start;
  return { now: () => t, advanceSec: (s: number) => void (t += s * 1000) };
}

const A = generateSigningKey();
const B = generateSigningKey();

describe('signing keys and the JWKS document', () => {
  it('generates P-256 keys whose kid is the RFC 7638 thumbprint and whose JWK is public only', () => {
    expect(A.kid).not.toBe(B.kid);
    expect(A.kid).toBe(jwkThumbprint(A.publicJwk));
    expect(A.kid).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(A.privateKey.asymmetricKeyDetails?.namedCurve).toBe('prime256v1');
    expect(A.publicJwk).toEqual({
      kty: 'EC',
      crv: 'P-256',
      x: expect.any(String),
      y: expect.any(String),
      kid: A.kid,
      alg: 'ES256',
      use: 'sig',
    });
    expect(A.publicJwk).not.toHaveProperty('d');
  });

  it('publishes only public members and each kid once', () => {
    const leaky = { ...A.publicJwk, d: A.privateKey.export({ format: 'jwk' }).d } as PublicJwk;
    const doc = toJwks([leaky, B.publicJwk, B.publicJwk]);
    expect(doc.keys.map((k) => k.kid)).toEqual([A.kid, B.kid]);
    expect(JSON.stringify(doc)).not.toContain('"d"');
  });

  it('imports usable ES256 keys and skips everything else', async () => {
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({ format: 'jwk' });
    const withPrivate = { ...A.publicJwk, kid: 'priv', d: A.privateKey.export({ format: 'jwk' }).d };
    const keys = importJwks({
      keys: [
        A.publicJwk,
        { ...rsa, kid: 'rsa' },
        withPrivate,
        { ...B.publicJwk, kid: 'enc', use: 'enc' },
        { ...B.publicJwk, kid: 'rs256', alg: 'RS256' },
        { ...B.publicJwk, kid: undefined },
        { ...B.publicJwk, kid: 'off-curve', y: A.publicJwk.x },
        null,
        'junk',
      ],
    });
    expect(await keys.resolve(A.kid)).toMatchObject({ type: 'public' });
    for (const kid of ['rsa', 'priv', 'enc', 'rs256', 'off-curve', B.kid]) {
      expect(await keys.resolve(kid)).toBeUndefined();
    }
    expect(() => importJwks({ nokeys: [] })).toThrow(/keys array/);
    expect(() => importJwks(null)).toThrow(/keys array/);
  });
});

describe('JwksCache', () => {
  const identity = new FakeIdentity();
  beforeAll(() => identity.start());
  afterAll(() => identity.stop());
  beforeEach(() => {
    identity.requests = 0;
    identity.status = 200;
    identity.hang = false;
    identity.publish(A);
  });

  const cacheAt = (clock: { now: () => number }, opts: Partial<JwksCacheOptions> = {}) =>
    new JwksCache({ url: identity.url, now: clock.now, maxAgeSec: 60, minRefetchIntervalSec: 5, ...opts });

  it('fetches once and then serves keys from the cache until they are older than maxAge', async () => {
    const clock = manualClock();
    const cache = cacheAt(clock);
    expect(await cache.resolve(A.kid)).toBeDefined();
    expect(await cache.resolve(A.kid)).toBeDefined();
    clock.advanceSec(59);
    expect(await cache.resolve(A.kid)).toBeDefined();
    expect(identity.requests).toBe(1);
    clock.advanceSec(1);
    expect(await cache.resolve(A.kid)).toBeDefined();
    expect(identity.requests).toBe(2);
  });

  it('keeps old keys verifying across a rotation, and drops them once the JWKS no longer lists them', async () => {
    const clock = manualClock();
    const cache = cacheAt(clock);
    const now = () => new Date(clock.now());
    const claims = () => ({ sub: 'c', exp: clock.now() / 1000 + 600 });
    const oldToken = await signJwt(claims(), { privateKey: A.privateKey, kid: A.kid });
    await expect(verifyJwt(oldToken, cache, { now: now() })).resolves.toBeDefined();

    // identity rotates: B signs from now on, A stays published until its tokens expire
    identity.publish(B, A);
    clock.advanceSec(6);
    const newToken = await signJwt(claims(), { privateKey: B.privateKey, kid: B.kid });
    await expect(verifyJwt(newToken, cache, { now: now() })).resolves.toBeDefined(); // unknown kid: refetch
    await expect(verifyJwt(oldToken, cache, { now: now() })).resolves.toBeDefined();
    expect(identity.requests).toBe(2);

    // A is retired; once the cache refetches (maxAge), A's tokens fail and B's still verify
    identity.publish(B);
    clock.advanceSec(61);
    await expect(verifyJwt(oldToken, cache, { now: now() })).rejects.toMatchObject({
      code: 'TOKEN_KID_UNKNOWN',
    });
    await expect(verifyJwt(newToken, cache, { now: now() })).resolves.toBeDefined();
    expect(identity.requests).toBe(3);
  });

  it('fetches at most once per throttle window, however many unknown kids arrive', async () => {
    const clock = manualClock();
    const cache = cacheAt(clock);
    await cache.resolve(A.kid);
    expect(identity.requests).toBe(1);

    clock.advanceSec(5);
    const burst = await Promise.all(Array.from({ length: 100 }, () => cache.resolve(randomUUID())));
    expect(burst.every((k) => k === undefined)).toBe(true);
    expect(identity.requests).toBe(2);

    for (let i = 0; i < 100; i++) {
      clock.advanceSec(0.04); // 100 kids spread over 4 s: still one window
      expect(await cache.resolve(randomUUID())).toBeUndefined();
    }
    expect(identity.requests).toBe(2);
    expect(await cache.resolve(A.kid)).toBeDefined(); // known keys are still served meanwhile

    clock.advanceSec(1);
    await cache.resolve(randomUUID());
    expect(identity.requests).toBe(3);
    expect(cache.fetchCount).toBe(3);
  });

  it('shares one fetch among concurrent callers on a cold start', async () => {
    const cache = cacheAt(manualClock());
    const keys = await Promise.all(Array.from({ length: 50 }, () => cache.resolve(A.kid)));
    expect(keys.every((k) => k !== undefined)).toBe(true);
    expect(identity.requests).toBe(1);
  });

  it('serves stale keys while the JWKS cannot be fetched, and reports each failure', async () => {
    const clock = manualClock();
    const errors: unknown[] = [];
    const cache = cacheAt(clock, { onRefreshError: (e) => errors.push(e) });
    await cache.resolve(A.kid);
    identity.status = 503;
    clock.advanceSec(61);
    expect(await cache.resolve(A.kid)).toBeDefined();
    expect(await cache.resolve(B.kid)).toBeUndefined(); // throttled: no second attempt yet
    expect(identity.requests).toBe(2);
    expect(errors).toHaveLength(1);
    expect(String(errors[0])).toContain('503');

    identity.status = 200;
    identity.publish(B);
    clock.advanceSec(5);
    expect(await cache.resolve(B.kid)).toBeDefined(); // recovered
    expect(await cache.resolve(A.kid)).toBeUndefined();
  });

  it('gives up on a JWKS that does not answer within the timeout', async () => {
    const clock = manualClock();
    const errors: unknown[] = [];
    const cache = cacheAt(clock, { timeoutMs: 100, onRefreshError: (e) => errors.push(e) });
    await cache.resolve(A.kid);
    identity.hang = true;
    clock.advanceSec(61);
    expect(await cache.resolve(A.kid)).toBeDefined();
    expect(errors).toHaveLength(1);
  });

  it('reports UNAVAILABLE (not a bad token) when it has never loaded any keys', async () => {
    identity.status = 500;
    const clock = manualClock();
    const cache = cacheAt(clock);
    await expect(cache.resolve(A.kid)).rejects.toBeInstanceOf(InfrastructureError);
    await expect(cache.resolve(A.kid)).rejects.toMatchObject({ kind: 'unavailable' }); // throttled
    expect(identity.requests).toBe(1);
    const token = await signJwt({ exp: clock.now() / 1000 + 60 }, { privateKey: A.privateKey, kid: A.kid });
    const err: unknown = await verifyJwt(token, cache, { now: new Date(clock.now()) }).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(InfrastructureError);
    expect(err).not.toBeInstanceOf(AuthError);
  });

  it('uses an injected fetch function', async () => {
    let calls = 0;
    const cache = new JwksCache({
      url: 'http://identity.invalid/.well-known/jwks.json',
      fetch: (input) => {
        calls += 1;
        expect(String(input)).toBe('http://identity.invalid/.well-known/jwks.json');
        return Promise.resolve(new Response(JSON.stringify(toJwks([A.publicJwk]))));
      },
    });
    expect(await cache.resolve(A.kid)).toBeDefined();
    expect(calls).toBe(1);
  });
});
