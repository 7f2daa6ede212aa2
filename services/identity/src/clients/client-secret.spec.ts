import { createHash, createHmac, randomBytes, scryptSync } from 'node:crypto';
import { CLIENT_ID_PATTERN, ClientSecretHasher, newClientId, newClientSecret } from './client-secret';

/** A hash as rows written before the HMAC form hold it, built independently of the code under test. */
function legacyScryptHash(secret: string, N = 16384, r = 8, p = 1): string {
  const salt = randomBytes(16);
  const hash = scryptSync(secret, salt, 32, { N, r, p, maxmem: 256 * N * r * p });
  return `scrypt$${N}$${r}$${p}$${salt.toString('base64url')}$${hash.toString('base64url')}`;
}

/** The same 32 bytes in base64url with the two unused low bits of the last character set. */
function nonCanonical(digest: string): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
  const last = alphabet.indexOf(digest.slice(-1));
  return `${digest.slice(0, -1)}${alphabet[last | 3]}`;
}

describe('client ids and secrets', () => {
  const hasher = new ClientSecretHasher(Buffer.alloc(32, 7));

  it('makes cb_ + 24 base32 ids and 43-character base64url secrets, never the same twice', () => {
    const ids = new Set(Array.from({ length: 200 }, () => newClientId()));
    expect(ids.size).toBe(200);
    for (const id of ids) expect(id).toMatch(CLIENT_ID_PATTERN);
    const secret = newClientSecret();
    expect(secret).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(Buffer.from(secret, 'base64url')).toHaveLength(32);
    expect(newClientSecret()).not.toBe(secret);
  });

  it('stores hmac-sha256$v1$<HMAC-SHA-256> and verifies only the right secret', async () => {
    const secret = newClientSecret();
    const stored = hasher.hash(secret);
    expect(stored).toMatch(/^hmac-sha256\$v1\$[A-Za-z0-9_-]{43}$/);
    expect(stored).not.toContain(secret);
    expect(hasher.hash(secret)).toBe(stored); // keyed, deterministic: same secret, same hash
    expect(hasher.hash(newClientSecret())).not.toBe(stored);
    expect(hasher.isCurrent(stored)).toBe(true);
    expect(await hasher.verify(secret, stored)).toBe(true);
    expect(await hasher.verify(`${secret}x`, stored)).toBe(false);
    expect(await hasher.verify(secret.slice(0, -1), stored)).toBe(false);
    expect(await hasher.verify('', stored)).toBe(false);
  });

  it('keys the hash: another master key gives another hash, under which the secret does not verify', async () => {
    const other = new ClientSecretHasher(Buffer.alloc(32, 8));
    const secret = newClientSecret();
    expect(other.hash(secret)).not.toBe(hasher.hash(secret));
    expect(await other.verify(secret, hasher.hash(secret))).toBe(false);
    expect(await hasher.verify(secret, other.hash(secret))).toBe(false);
    // not a bare (unkeyed) SHA-256 or HMAC under the master key itself: the key is derived for this purpose
    const digest = hasher.hash(secret).split('$')[2];
    expect(digest).not.toBe(createHash('sha256').update(secret).digest('base64url'));
    expect(digest).not.toBe(createHmac('sha256', Buffer.alloc(32, 7)).update(secret).digest('base64url'));
  });

  it('refuses a master key that is not 32 bytes', () => {
    expect(() => new ClientSecretHasher(Buffer.alloc(16))).toThrow(/32 bytes/);
  });

  it('never matches a malformed or tampered HMAC hash, nor an unknown key version', async () => {
    const secret = newClientSecret();
    const stored = hasher.hash(secret);
    const digest = stored.split('$')[2] ?? '';
    const flipped = `${digest[0] === 'A' ? 'B' : 'A'}${digest.slice(1)}`;
    for (const bad of [
      `hmac-sha256$v1$${flipped}`,
      `hmac-sha256$v2$${digest}`, // a key version this process does not hold
      `hmac-sha256$v1$${digest.slice(0, -1)}`,
      `hmac-sha256$v1$${digest}A`,
      `hmac-sha256$v1$${digest}$`,
      `hmac-sha1$v1$${digest}`,
      `HMAC-SHA256$v1$${digest}`,
      `hmac-sha256$$${digest}`,
      `hmac-sha256$v1$${digest.replace(/.$/, '=')}`,
      `hmac-sha256$v1$${nonCanonical(digest)}`, // decodes to the same bytes, but is not what we write
      digest,
      secret,
      'plain-text',
      '',
    ]) {
      expect({ bad, ok: await hasher.verify(secret, bad) }).toEqual({ bad, ok: false });
    }
  });

  it('still verifies a legacy scrypt hash, and says it should be rewritten', async () => {
    const secret = newClientSecret();
    const stored = legacyScryptHash(secret);
    expect(hasher.isCurrent(stored)).toBe(false);
    expect(await hasher.verify(secret, stored)).toBe(true);
    expect(await hasher.verify(`${secret}x`, stored)).toBe(false);
    expect(await hasher.verify('', stored)).toBe(false);
    // other parameters are read from the stored value
    expect(await hasher.verify(secret, legacyScryptHash(secret, 1024, 8, 1))).toBe(true);
  });

  it('never matches a malformed or tampered legacy scrypt hash', async () => {
    const secret = newClientSecret();
    const stored = legacyScryptHash(secret);
    const parts = stored.split('$');
    const swap = (i: number, v: string) => parts.map((p, j) => (j === i ? v : p)).join('$');
    expect(await hasher.verify(secret, swap(1, '16383'))).toBe(false); // not a power of two
    expect(await hasher.verify(secret, swap(1, String(2 ** 30)))).toBe(false); // too costly
    expect(await hasher.verify(secret, swap(5, 'AAAA'))).toBe(false);
    expect(await hasher.verify(secret, swap(4, 'AAAA'))).toBe(false); // salt too short
    expect(await hasher.verify(secret, swap(0, 'bcrypt'))).toBe(false);
    expect(await hasher.verify(secret, `${stored}$`)).toBe(false);
    expect(await hasher.verify(secret, swap(2, '4'))).toBe(false); // other params, other hash
  });

  it('has a dummy hash for unknown clients, in the current form, that no fresh secret matches', async () => {
    const dummy = hasher.unknownClientHash;
    expect(dummy).toMatch(/^hmac-sha256\$v1\$[A-Za-z0-9_-]{43}$/);
    expect(hasher.unknownClientHash).toBe(dummy);
    expect(await hasher.verify(newClientSecret(), dummy)).toBe(false);
    expect(new ClientSecretHasher(Buffer.alloc(32, 7)).unknownClientHash).not.toBe(dummy);
  });
});
