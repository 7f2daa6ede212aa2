import {
  createCipheriv,
  createDecipheriv,
  createPrivateKey,
  hkdfSync,
  KeyObject,
  randomBytes,
} from 'node:crypto';

const WRAP_INFO = 'citybase identity signing key wrap v1';
const VERSION = 1;

/**
 * Wraps token signing private keys for storage: the PKCS#8 DER of the key, AES-256-GCM under a key
 * derived from IDENTITY_MASTER_KEY with HKDF (its own info string, so it is never the personal-data
 * key). The kid is bound as additional data: a wrapped key copied onto another row does not unwrap.
 * Layout: version(1) | iv(12) | tag(16) | ciphertext.
 */
export class SigningKeyWrap {
  private readonly key: Buffer;

  constructor(masterKey: Buffer) {
    if (masterKey.length !== 32) throw new Error('SigningKeyWrap: master key must be 32 bytes');
    this.key = Buffer.from(hkdfSync('sha256', masterKey, Buffer.alloc(0), WRAP_INFO, 32));
  }

  wrap(privateKey: KeyObject, kid: string): Buffer {
    const der = privateKey.export({ format: 'der', type: 'pkcs8' });
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv);
    cipher.setAAD(Buffer.from(kid, 'utf8'));
    const body = Buffer.concat([cipher.update(der), cipher.final()]);
    der.fill(0);
    return Buffer.concat([Buffer.of(VERSION), iv, cipher.getAuthTag(), body]);
  }

  /** The private key, in memory only. Throws if the blob was altered or belongs to another kid. */
  unwrap(sealed: Buffer, kid: string): KeyObject {
    if (sealed.length < 30 || sealed[0] !== VERSION)
      throw new Error('SigningKeyWrap: unknown wrapped key format');
    const decipher = createDecipheriv('aes-256-gcm', this.key, sealed.subarray(1, 13));
    decipher.setAAD(Buffer.from(kid, 'utf8'));
    decipher.setAuthTag(sealed.subarray(13, 29));
    const der = Buffer.concat([decipher.update(sealed.subarray(29)), decipher.final()]);
    try {
      return createPrivateKey({ key: der, format: 'der', type: 'pkcs8' });
    } finally {
      der.fill(0);
    }
  }
}
