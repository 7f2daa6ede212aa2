import { createCipheriv, createDecipheriv, createHmac, hkdfSync, randomBytes } from 'node:crypto';

const SEAL_INFO = 'citybase payment channel credentials v1';
const FINGERPRINT_INFO = 'citybase payment channel credentials fingerprint v1';
const VERSION = 1;
const HEADER = 1 + 12 + 16;

/** Which project account a sealed credential belongs to; bound into the ciphertext. */
export interface CredentialsOwner {
  projectId: string;
  channelId: string;
}

/**
 * Seals the projects' channel credentials (merchant keys) for storage: AES-256-GCM under a key
 * derived from PAYMENT_CREDENTIALS_KEY with HKDF (its own info string), with the (project, channel)
 * pair as additional data so a sealed value moved onto another row does not open.
 * Layout: version(1) | iv(12) | tag(16) | ciphertext.
 */
export class CredentialsCipher {
  private readonly sealKey: Buffer;
  private readonly fingerprintKey: Buffer;

  constructor(masterKey: Buffer) {
    if (masterKey.length !== 32) throw new Error('CredentialsCipher: master key must be 32 bytes');
    this.sealKey = Buffer.from(hkdfSync('sha256', masterKey, Buffer.alloc(0), SEAL_INFO, 32));
    this.fingerprintKey = Buffer.from(hkdfSync('sha256', masterKey, Buffer.alloc(0), FINGERPRINT_INFO, 32));
  }

  static fromConfig(base64Key: string): CredentialsCipher {
    return new CredentialsCipher(Buffer.from(base64Key, 'base64'));
  }

  seal(credentials: string, owner: CredentialsOwner): Buffer {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.sealKey, iv);
    cipher.setAAD(additionalData(owner));
    const body = Buffer.concat([cipher.update(credentials, 'utf8'), cipher.final()]);
    return Buffer.concat([Buffer.of(VERSION), iv, cipher.getAuthTag(), body]);
  }

  /** The credentials in clear, for one call to the channel. Throws if altered or another row's. */
  open(sealed: Buffer, owner: CredentialsOwner): string {
    if (sealed.length <= HEADER || sealed[0] !== VERSION)
      throw new Error('CredentialsCipher: unknown sealed credentials format');
    const decipher = createDecipheriv('aes-256-gcm', this.sealKey, sealed.subarray(1, 13));
    decipher.setAAD(additionalData(owner));
    decipher.setAuthTag(sealed.subarray(13, HEADER));
    return Buffer.concat([decipher.update(sealed.subarray(HEADER)), decipher.final()]).toString('utf8');
  }

  /**
   * A keyed digest of credentials for idempotency fingerprints: equal credentials give equal
   * digests, but without the key nobody can test guesses against a stored fingerprint.
   */
  fingerprint(credentials: string): string {
    return createHmac('sha256', this.fingerprintKey).update(credentials, 'utf8').digest('hex');
  }
}

function additionalData(owner: CredentialsOwner): Buffer {
  return Buffer.from(`${owner.projectId}\u0000${owner.channelId}`, 'utf8');
}
