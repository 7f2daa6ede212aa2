import { randomBytes, scrypt, type ScryptOptions, timingSafeEqual } from 'node:crypto';

/** "cb_" + 24 characters of lowercase RFC 4648 base32 (120 random bits). */
export const CLIENT_ID_PATTERN = /^cb_[a-z2-7]{24}$/;
const BASE32 = 'abcdefghijklmnopqrstuvwxyz234567';

export function newClientId(): string {
  return `cb_${base32(randomBytes(15))}`;
}

/** 32 random bytes, base64url (43 characters). Shown to the caller once, never stored. */
export function newClientSecret(): string {
  return randomBytes(32).toString('base64url');
}

function base32(bytes: Buffer): string {
  let out = '';
  let bits = 0;
  let value = 0;
  for (const byte of bytes) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += BASE32[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += BASE32[(value << (5 - bits)) & 31];
  return out;
}

/** scrypt cost parameters (RFC 7914); N=2^14, r=8, p=1 takes tens of milliseconds per attempt. */
export const SCRYPT_PARAMS = { N: 16384, r: 8, p: 1 } as const;
const SALT_BYTES = 16;
const HASH_BYTES = 32;

function scryptAsync(
  secret: string,
  salt: Buffer,
  params: { N: number; r: number; p: number },
): Promise<Buffer> {
  const options: ScryptOptions = { ...params, maxmem: 256 * params.N * params.r * params.p };
  return new Promise((resolve, reject) =>
    scrypt(secret, salt, HASH_BYTES, options, (err, key) => (err ? reject(err) : resolve(key))),
  );
}

/** The stored form of a secret: "scrypt$N$r$p$<salt base64url>$<hash base64url>". */
export async function hashClientSecret(secret: string): Promise<string> {
  const salt = randomBytes(SALT_BYTES);
  const hash = await scryptAsync(secret, salt, SCRYPT_PARAMS);
  const { N, r, p } = SCRYPT_PARAMS;
  return `scrypt$${N}$${r}$${p}$${salt.toString('base64url')}$${hash.toString('base64url')}`;
}

/**
 * True if `secret` matches the stored hash; compared in constant time. A malformed stored hash
 * never matches. Parameters are read from the stored value, so they can be raised later without
 * invalidating existing secrets (within sane bounds, so a bad row cannot exhaust memory).
 */
export async function verifyClientSecret(secret: string, stored: string): Promise<boolean> {
  const parsed = parseHash(stored);
  if (!parsed) return false;
  const actual = await scryptAsync(secret, parsed.salt, parsed.params);
  return actual.length === parsed.hash.length && timingSafeEqual(actual, parsed.hash);
}

function parseHash(
  stored: string,
): { params: { N: number; r: number; p: number }; salt: Buffer; hash: Buffer } | undefined {
  const parts = stored.split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt') return undefined;
  const [N, r, p] = [Number(parts[1]), Number(parts[2]), Number(parts[3])];
  const powerOfTwo = Number.isInteger(N) && N >= 2 && N <= 2 ** 20 && (N & (N - 1)) === 0;
  if (!powerOfTwo || !Number.isInteger(r) || r < 1 || r > 32 || !Number.isInteger(p) || p < 1 || p > 16) {
    return undefined;
  }
  const salt = Buffer.from(parts[4] ?? '', 'base64url');
  const hash = Buffer.from(parts[5] ?? '', 'base64url');
  if (salt.length < 16 || hash.length < 16) return undefined;
  return { params: { N, r, p }, salt, hash };
}

let dummyHash: Promise<string> | undefined;

/**
 * A hash no secret is known for: checked against when the client does not exist, so an unknown
 * client id takes as long to refuse as a wrong secret (no timing hint which one it was).
 */
export function unknownClientHash(): Promise<string> {
  dummyHash ??= hashClientSecret(newClientSecret());
  return dummyHash;
}
