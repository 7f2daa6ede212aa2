import {
  CLIENT_ID_PATTERN,
  hashClientSecret,
  newClientId,
  newClientSecret,
  unknownClientHash,
  verifyClientSecret,
} from './client-secret';

describe('client ids and secrets', () => {
  it('makes cb_ + 24 base32 ids and 43-character base64url secrets, never the same twice', () => {
    const ids = new Set(Array.from({ length: 200 }, () => newClientId()));
    expect(ids.size).toBe(200);
    for (const id of ids) expect(id).toMatch(CLIENT_ID_PATTERN);
    const secret = newClientSecret();
    expect(secret).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(Buffer.from(secret, 'base64url')).toHaveLength(32);
    expect(newClientSecret()).not.toBe(secret);
  });

  it('stores scrypt$N$r$p$salt$hash and verifies only the right secret', async () => {
    const secret = newClientSecret();
    const stored = await hashClientSecret(secret);
    expect(stored).toMatch(/^scrypt\$16384\$8\$1\$[A-Za-z0-9_-]{22}\$[A-Za-z0-9_-]{43}$/);
    expect(stored).not.toContain(secret);
    expect(await hashClientSecret(secret)).not.toBe(stored); // salted
    expect(await verifyClientSecret(secret, stored)).toBe(true);
    expect(await verifyClientSecret(`${secret}x`, stored)).toBe(false);
    expect(await verifyClientSecret('', stored)).toBe(false);
  });

  it('never matches a malformed or tampered stored hash', async () => {
    const secret = newClientSecret();
    const stored = await hashClientSecret(secret);
    const parts = stored.split('$');
    const swap = (i: number, v: string) => parts.map((p, j) => (j === i ? v : p)).join('$');
    expect(await verifyClientSecret(secret, swap(1, '16383'))).toBe(false); // not a power of two
    expect(await verifyClientSecret(secret, swap(1, String(2 ** 30)))).toBe(false); // too costly
    expect(await verifyClientSecret(secret, swap(5, 'AAAA'))).toBe(false);
    expect(await verifyClientSecret(secret, swap(0, 'bcrypt'))).toBe(false);
    expect(await verifyClientSecret(secret, 'plain-text')).toBe(false);
    expect(await verifyClientSecret(secret, swap(2, '4'))).toBe(false); // other params, other hash
  });

  it('has a dummy hash for unknown clients that no fresh secret matches', async () => {
    const dummy = await unknownClientHash();
    expect(await unknownClientHash()).toBe(dummy);
    expect(await verifyClientSecret(newClientSecret(), dummy)).toBe(false);
  });
});
