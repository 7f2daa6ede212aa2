import { createCipheriv, createDecipheriv, createHmac, hkdfSync, randomBytes } from 'node:crypto';
import { DomainError } from '@citybase/platform';

/**
 * Personal data at rest: phone and ID numbers are stored as AES-256-GCM ciphertext (to show them to
 * a caller with scope identity:pii.read), a keyed lookup hash (HMAC-SHA256, to find and de-duplicate
 * without decrypting), and the masked form (for everyone else). Keys are derived from
 * IDENTITY_MASTER_KEY with HKDF, one per purpose.
 */
export class PiiCipher {
  private readonly encKey: Buffer;
  private readonly lookupKey: Buffer;

  constructor(masterKey: Buffer) {
    if (masterKey.length !== 32) throw new Error('PiiCipher: master key must be 32 bytes');
    this.encKey = derive(masterKey, 'citybase identity pii encryption v1');
    this.lookupKey = derive(masterKey, 'citybase identity pii lookup v1');
  }

  /** version(1) | iv(12) | tag(16) | ciphertext. `context` (e.g. "resident.phone") is bound as AAD. */
  encrypt(plain: string, context: string): Buffer {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.encKey, iv);
    cipher.setAAD(Buffer.from(context));
    const body = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
    return Buffer.concat([Buffer.of(1), iv, cipher.getAuthTag(), body]);
  }

  decrypt(sealed: Buffer, context: string): string {
    if (sealed[0] !== 1) throw new Error('PiiCipher: unknown ciphertext version');
    const decipher = createDecipheriv('aes-256-gcm', this.encKey, sealed.subarray(1, 13));
    decipher.setAAD(Buffer.from(context));
    decipher.setAuthTag(sealed.subarray(13, 29));
    return Buffer.concat([decipher.update(sealed.subarray(29)), decipher.final()]).toString('utf8');
  }

  /** Deterministic keyed hash of a normalised value, per kind ("phone", "id_number"). */
  lookupHash(kind: 'phone' | 'id_number', normalized: string): Buffer {
    return createHmac('sha256', this.lookupKey).update(`${kind}:${normalized}`).digest();
  }

  /** Everything a row stores for one personal value. */
  seal(kind: 'phone' | 'id_number', normalized: string, context: string): SealedPii {
    return {
      enc: this.encrypt(normalized, context),
      hash: this.lookupHash(kind, normalized),
      masked: kind === 'phone' ? maskPhone(normalized) : maskIdNumber(normalized),
    };
  }
}

export interface SealedPii {
  enc: Buffer;
  hash: Buffer;
  masked: string;
}

/** Query parameters of a sealed value's columns `<name>_enc, <name>_hash, <name>_masked`, in that order. */
export function sealedColumns(value: SealedPii): [enc: Buffer, hash: Buffer, masked: string] {
  return [value.enc, value.hash, value.masked];
}

function derive(master: Buffer, info: string): Buffer {
  return Buffer.from(hkdfSync('sha256', master, Buffer.alloc(0), info, 32));
}

/** "13812345678" -> "138****5678". */
export function maskPhone(phone: string): string {
  return `${phone.slice(0, 3)}****${phone.slice(-4)}`;
}

/** "11010519491231002X" -> "1101**********002X" (region prefix and last four only). */
export function maskIdNumber(id: string): string {
  return `${id.slice(0, 4)}${'*'.repeat(Math.max(0, id.length - 8))}${id.slice(-4)}`;
}

const PHONE = /^1[3-9]\d{9}$/;

/** A mainland mobile number; spaces, dashes and a +86 / 86 prefix are accepted and removed. */
export function requiredPhone(field: string, value: string | undefined): string {
  if (value === undefined || value === '') throw DomainError.invalid(field, 'is required');
  if (value.length > 32) throw DomainError.invalid(field, 'must be at most 32 characters');
  const normalized = value.replace(/[\s-]/g, '').replace(/^\+?86(?=1\d{10}$)/, '');
  if (!PHONE.test(normalized)) {
    throw DomainError.invalid(field, 'must be a mainland mobile number (11 digits starting with 13-19)');
  }
  return normalized;
}

const ID_WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
const ID_CHECK = '10X98765432';

/** An 18-character mainland resident ID number (GB 11643): region, birth date, sequence, check digit. */
export function requiredIdNumber(field: string, value: string | undefined): string {
  if (value === undefined || value === '') throw DomainError.invalid(field, 'is required');
  const id = value.trim().toUpperCase();
  if (!/^\d{17}[\dX]$/.test(id)) {
    throw DomainError.invalid(field, 'must be 18 characters: 17 digits and a check digit (0-9 or X)');
  }
  const birth = id.slice(6, 14);
  const date = new Date(`${birth.slice(0, 4)}-${birth.slice(4, 6)}-${birth.slice(6, 8)}T00:00:00Z`);
  const year = Number(birth.slice(0, 4));
  if (
    Number.isNaN(date.getTime()) ||
    date.toISOString().slice(0, 10).replace(/-/g, '') !== birth ||
    year < 1900 ||
    date.getTime() > Date.now()
  ) {
    throw DomainError.invalid(field, 'must contain a valid birth date (digits 7-14, YYYYMMDD)');
  }
  const sum = ID_WEIGHTS.reduce((acc, w, i) => acc + w * Number(id[i]), 0);
  if (ID_CHECK[sum % 11] !== id[17]) throw DomainError.invalid(field, 'has a wrong check digit');
  return id;
}
