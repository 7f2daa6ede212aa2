import { createHmac, createPublicKey, generateKeyPairSync, sign as cryptoSign } from 'node:crypto';
import { InfrastructureError } from '../errors';
import { AuthError, AuthErrorCode } from './auth-error';
import { generateSigningKey, importJwks, SigningKey, toJwks } from './jwks';
import { signJwtSync } from '../testing/sign-jwt-sync';
import { base64urlEncode, decodeUnverified, JwtPayload, KeyResolver, signJwt, verifyJwt } from './jwt';

const NOW = new Date('2030-01-01T00:00:00Z');
const NOW_SEC = NOW.getTime() / 1000;
const key = generateSigningKey();
const otherKey = generateSigningKey();

/** A resolver over the JWKS of the given keys, imported the way JwksCache imports them. */
function resolverOf(...keys: SigningKey[]): KeyResolver {
  return importJwks(toJwks(keys.map((k) => k.publicJwk)));
}
const keys = resolverOf(key);

function payload(extra: JwtPayload = {}): JwtPayload {
  return {
    sub: 'client-1',
    scope: 'payment:write',
    city: 'sz',
    tenancy: { operators: ['op-1'] },
    iat: NOW_SEC,
    exp: NOW_SEC + 300,
    jti: 'jti-1',
    iss: 'https://identity.citybase',
    aud: 'citybase',
    ...extra,
  };
}

const b64json = (v: unknown) => base64urlEncode(JSON.stringify(v));
const parts = (token: string) => token.split('.') as [string, string, string];

async function expectAuthError(p: Promise<unknown>, code: AuthErrorCode): Promise<void> {
  const err: unknown = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(AuthError);
  expect(err).toMatchObject({ kind: 'unauthenticated', code });
}

const verifyAt = (token: string, opts: Parameters<typeof verifyJwt>[2] = {}) =>
  verifyJwt(token, keys, { now: NOW, ...opts });

describe('signJwt / decodeUnverified', () => {
  it('writes an ES256 compact JWT with kid, unpadded base64url and a 64-byte P1363 signature', async () => {
    const token = await signJwt(payload(), { privateKey: key.privateKey, kid: key.kid });
    expect(token).toMatch(/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/);
    const decoded = decodeUnverified(token);
    expect(decoded.header).toEqual({ alg: 'ES256', typ: 'JWT', kid: key.kid });
    expect(decoded.payload).toEqual(payload());
    expect(decoded.signature).toHaveLength(64);
  });

  it('round-trips through verifyJwt', async () => {
    const token = await signJwt(payload(), { privateKey: key.privateKey, kid: key.kid });
    await expect(verifyAt(token)).resolves.toEqual(payload());
    await expect(
      verifyAt(token, { issuer: 'https://identity.citybase', audience: 'citybase' }),
    ).resolves.toEqual(payload());
  });

  it('writes the same token as signJwtSync, which the test kit uses where it cannot await', async () => {
    const opts = { privateKey: key.privateKey, kid: key.kid };
    const [h, p] = parts(await signJwt(payload(), opts));
    const [hs, ps] = parts(signJwtSync(payload(), opts));
    expect([hs, ps]).toEqual([h, p]); // ECDSA signatures are randomised; both must verify
    await expect(verifyAt(signJwtSync(payload(), opts))).resolves.toEqual(payload());
  });

  it('refuses to sign with a key that is not P-256', async () => {
    const p384 = generateKeyPairSync('ec', { namedCurve: 'P-384' });
    await expect(signJwt(payload(), { privateKey: p384.privateKey, kid: key.kid })).rejects.toThrow();
  });
});

describe('verifyJwt refuses', () => {
  // signJwtSync: the it.each table below is built before any test runs, where nothing can be awaited
  const good = signJwtSync(payload(), { privateKey: key.privateKey, kid: key.kid });
  const [h, p, s] = parts(good);

  it.each([
    ['an empty string', ''],
    ['a single part', 'abc'],
    ['two parts', `${h}.${p}`],
    ['four parts', `${good}.x`],
    ['characters outside base64url', `${h}!.${p}.${s}`],
    ['padded base64url', `${h}=.${p}.${s}`],
    ['a header that is not JSON', `${base64urlEncode('{alg')}.${p}.${s}`],
    ['a header that is a JSON array', `${b64json(['ES256'])}.${p}.${s}`],
    ['a header without alg', `${b64json({ kid: key.kid })}.${p}.${s}`],
    ['a payload that is not an object', `${h}.${b64json('sub')}.${s}`],
    ['a token longer than 8 KiB', `${h}.${b64json({ pad: 'x'.repeat(9000) })}.${s}`],
  ])('a malformed token: %s', async (_name, token) => {
    await expectAuthError(verifyAt(token), 'TOKEN_MALFORMED');
  });

  it('alg none with an empty signature', async () => {
    const token = `${b64json({ alg: 'none', typ: 'JWT', kid: key.kid })}.${p}.`;
    await expectAuthError(verifyAt(token), 'TOKEN_ALG_UNSUPPORTED');
  });

  it('HS256 signed with the public key bytes as the HMAC secret', async () => {
    const pem = createPublicKey(key.privateKey).export({
      type: 'spki',
      format: 'pem',
    });
    const input = `${b64json({ alg: 'HS256', typ: 'JWT', kid: key.kid })}.${p}`;
    const mac = createHmac('sha256', pem).update(input).digest();
    await expectAuthError(verifyAt(`${input}.${base64urlEncode(mac)}`), 'TOKEN_ALG_UNSUPPORTED');
  });

  it('a critical header extension', async () => {
    const input = `${b64json({ alg: 'ES256', kid: key.kid, crit: ['exp'] })}.${p}`;
    const sig = cryptoSign('sha256', Buffer.from(input), { key: key.privateKey, dsaEncoding: 'ieee-p1363' });
    await expectAuthError(verifyAt(`${input}.${base64urlEncode(sig)}`), 'TOKEN_MALFORMED');
  });

  it.each([
    ['no kid', { alg: 'ES256', typ: 'JWT' }],
    ['an empty kid', { alg: 'ES256', typ: 'JWT', kid: '' }],
    ['a kid that is not a string', { alg: 'ES256', typ: 'JWT', kid: 7 }],
  ])('a header with %s', async (_name, header) => {
    const input = `${b64json(header)}.${p}`;
    const sig = cryptoSign('sha256', Buffer.from(input), { key: key.privateKey, dsaEncoding: 'ieee-p1363' });
    await expectAuthError(verifyAt(`${input}.${base64urlEncode(sig)}`), 'TOKEN_KID_MISSING');
  });

  it('a token signed by a key the resolver does not know', async () => {
    const token = await signJwt(payload(), { privateKey: otherKey.privateKey, kid: otherKey.kid });
    await expectAuthError(verifyAt(token), 'TOKEN_KID_UNKNOWN');
  });

  it('a token signed by another key under a known kid', async () => {
    const token = await signJwt(payload(), { privateKey: otherKey.privateKey, kid: key.kid });
    await expectAuthError(verifyAt(token), 'TOKEN_SIGNATURE_INVALID');
  });

  it('a tampered payload', async () => {
    const forged = `${h}.${b64json(payload({ scope: 'payment:write city:admin' }))}.${s}`;
    await expectAuthError(verifyAt(forged), 'TOKEN_SIGNATURE_INVALID');
  });

  it('a tampered header', async () => {
    const forged = `${b64json({ alg: 'ES256', typ: 'JWT', kid: key.kid, x: 1 })}.${p}.${s}`;
    await expectAuthError(verifyAt(forged), 'TOKEN_SIGNATURE_INVALID');
  });

  it('a DER-encoded signature (the JOSE form is raw r||s)', async () => {
    const der = cryptoSign('sha256', Buffer.from(`${h}.${p}`), key.privateKey);
    await expectAuthError(verifyAt(`${h}.${p}.${base64urlEncode(der)}`), 'TOKEN_SIGNATURE_INVALID');
  });

  it('a P-384 key and signature behind the kid (ES384 posing as ES256)', async () => {
    const p384 = generateKeyPairSync('ec', { namedCurve: 'P-384' });
    const resolver: KeyResolver = { resolve: () => Promise.resolve(p384.publicKey) };
    const token = signJwtSync(payload(), { privateKey: p384.privateKey, kid: key.kid }); // jose would not
    await expectAuthError(verifyJwt(token, resolver, { now: NOW }), 'TOKEN_SIGNATURE_INVALID');
  });

  it('an expired token (beyond the clock tolerance), but not one within it', async () => {
    const expired = await signJwt(payload({ exp: NOW_SEC - 31 }), {
      privateKey: key.privateKey,
      kid: key.kid,
    });
    await expectAuthError(verifyAt(expired), 'TOKEN_EXPIRED');
    const justExpired = await signJwt(payload({ exp: NOW_SEC - 29 }), {
      privateKey: key.privateKey,
      kid: key.kid,
    });
    await expect(verifyAt(justExpired)).resolves.toBeDefined();
    await expectAuthError(verifyAt(justExpired, { clockToleranceSec: 0 }), 'TOKEN_EXPIRED');
  });

  it('a token without exp', async () => {
    const token = await signJwt(payload({ exp: undefined }), { privateKey: key.privateKey, kid: key.kid });
    await expectAuthError(verifyAt(token), 'TOKEN_CLAIMS_INVALID');
  });

  it('a token whose nbf or iat lies in the future beyond the tolerance', async () => {
    const sign = (extra: JwtPayload) => signJwt(payload(extra), { privateKey: key.privateKey, kid: key.kid });
    await expectAuthError(verifyAt(await sign({ nbf: NOW_SEC + 31 })), 'TOKEN_NOT_YET_VALID');
    await expectAuthError(verifyAt(await sign({ iat: NOW_SEC + 31 })), 'TOKEN_NOT_YET_VALID');
    await expect(verifyAt(await sign({ nbf: NOW_SEC + 29, iat: NOW_SEC + 29 }))).resolves.toBeDefined();
  });

  it('a wrong or missing issuer', async () => {
    await expectAuthError(verifyAt(good, { issuer: 'https://evil.example' }), 'TOKEN_ISSUER_INVALID');
    const noIss = await signJwt(payload({ iss: undefined }), { privateKey: key.privateKey, kid: key.kid });
    await expectAuthError(verifyAt(noIss, { issuer: 'https://identity.citybase' }), 'TOKEN_ISSUER_INVALID');
  });

  it('a wrong audience (string or array)', async () => {
    await expectAuthError(verifyAt(good, { audience: 'other' }), 'TOKEN_AUDIENCE_INVALID');
    const multi = await signJwt(payload({ aud: ['a', 'citybase'] }), {
      privateKey: key.privateKey,
      kid: key.kid,
    });
    await expect(verifyAt(multi, { audience: 'citybase' })).resolves.toBeDefined();
    await expectAuthError(verifyAt(multi, { audience: 'other' }), 'TOKEN_AUDIENCE_INVALID');
  });
});

it('lets a resolver outage through as itself, not as a bad token', async () => {
  const down: KeyResolver = {
    resolve: () => Promise.reject(new InfrastructureError('unavailable', 'jwks down')),
  };
  const token = await signJwt(payload(), { privateKey: key.privateKey, kid: key.kid });
  await expect(verifyJwt(token, down, { now: NOW })).rejects.toBeInstanceOf(InfrastructureError);
});
