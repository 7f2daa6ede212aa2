import { createHmac, hkdfSync, randomBytes, scrypt, type ScryptOptions, timingSafeEqual } from 'node:crypto';

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

const HMAC_INFO = 'citybase identity client secret hash v1';
/** Version of the HMAC key; a stored hash names it, so the key can be replaced later (ADR 0005). */
const HMAC_VERSION = 'v1';
const HMAC_PREFIX = `hmac-sha256$${HMAC_VERSION}$`;
const HMAC_STORED = /^hmac-sha256\$([a-z0-9]+)\$([A-Za-z0-9_-]{43})$/;

/**
 * Stores and checks client secrets. A secret is 256 random bits, so guessing it is hopeless and a
 * slow hash buys nothing; it is stored as HMAC-SHA-256 under a key derived from IDENTITY_MASTER_KEY
 * with HKDF (its own info string), so a copy of the database alone cannot even confirm a secret
 * found elsewhere. Form: "hmac-sha256$v1$<base64url>". Rows written before this form hold a salted
 * scrypt hash ("scrypt$N$r$p$salt$hash"); those still verify, and `isCurrent` tells the caller to
 * rewrite them after a successful check. Reasoning: ADR 0005, "Client secrets".
 */
export class ClientSecretHasher {
  private readonly key: Buffer;
  /**
   * A hash no secret is known for: checked against when the client does not exist, so an unknown
   * client id takes as long to refuse as a wrong secret (no timing hint which one it was).
   */
  readonly unknownClientHash: string;

  constructor(masterKey: Buffer) {
    if (masterKey.length !== 32) throw new Error('ClientSecretHasher: master key must be 32 bytes');
    this.key = Buffer.from(hkdfSync('sha256', masterKey, Buffer.alloc(0), HMAC_INFO, 32));
    this.unknownClientHash = this.hash(newClientSecret());
  }

  /** The stored form of a new secret. */
  hash(secret: string): string {
    return `${HMAC_PREFIX}${this.digest(secret).toString('base64url')}`;
  }

  /**
   * True if `secret` matches the stored hash (either form); compared in constant time. A malformed
   * stored hash, or one under a key version this process does not hold, never matches.
   */
  async verify(secret: string, stored: string): Promise<boolean> {
    const hmac = HMAC_STORED.exec(stored);
    if (hmac) {
      if (hmac[1] !== HMAC_VERSION) return false;
      // compared as written (43 ASCII characters), so a non-canonical encoding never matches
      const expected = Buffer.from(hmac[2] ?? '', 'latin1');
      const actual = Buffer.from(this.digest(secret).toString('base64url'), 'latin1');
      return expected.length === actual.length && timingSafeEqual(actual, expected);
    }
    return verifyLegacyScrypt(secret, stored);
  }

  /** False for a hash that should be rewritten with `hash` once its secret has been seen (legacy scrypt). */
  isCurrent(stored: string): boolean {
    return stored.startsWith(HMAC_PREFIX);
  }

  private digest(secret: string): Buffer {
    return createHmac('sha256', this.key).update(secret, 'utf8').digest();
  }
}

/** Length of a legacy scrypt hash as it was written. */
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

/**
 * The legacy form, "scrypt$N$r$p$<salt base64url>$<hash base64url>", written before secrets were
 * HMAC-hashed; new secrets are never stored this way. Parameters are read from the stored value
 * (within sane bounds); a malformed value never matches.
 */
async function verifyLegacyScrypt(secret: string, stored: string): Promise<boolean> {
  const parsed = parseScryptHash(stored);
  if (!parsed) return false;
  const actual = await scryptAsync(secret, parsed.salt, parsed.params);
  return actual.length === parsed.hash.length && timingSafeEqual(actual, parsed.hash);
}

function parseScryptHash(
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
