import { createDecipheriv, hkdfSync } from 'node:crypto';
import { CredentialsCipher } from './channel-credentials';

const master = Buffer.alloc(32, 9);
const owner = { projectId: 'proj-1', channelId: 'sandbox' };
const KEY = 'merchant-key-0123456789abcdef';

describe('CredentialsCipher', () => {
  const cipher = new CredentialsCipher(master);

  it('seals with AES-256-GCM under HKDF(master, info "citybase payment channel credentials v1") with (project, channel) as AAD', () => {
    const sealed = cipher.seal(KEY, owner);
    expect(sealed[0]).toBe(1);
    expect(sealed.includes(Buffer.from(KEY))).toBe(false);
    // open it independently of the class, from the documented layout and derivation
    const key = Buffer.from(
      hkdfSync('sha256', master, Buffer.alloc(0), 'citybase payment channel credentials v1', 32),
    );
    const d = createDecipheriv('aes-256-gcm', key, sealed.subarray(1, 13));
    d.setAAD(Buffer.from('proj-1\u0000sandbox'));
    d.setAuthTag(sealed.subarray(13, 29));
    expect(Buffer.concat([d.update(sealed.subarray(29)), d.final()]).toString()).toBe(KEY);
    expect(cipher.open(sealed, owner)).toBe(KEY);
  });

  it('uses a fresh IV each time', () => {
    expect(cipher.seal(KEY, owner).equals(cipher.seal(KEY, owner))).toBe(false);
  });

  it('does not open a value moved to another project or channel, altered, or under another master key', () => {
    const sealed = cipher.seal(KEY, owner);
    expect(() => cipher.open(sealed, { ...owner, projectId: 'proj-2' })).toThrow();
    expect(() => cipher.open(sealed, { ...owner, channelId: 'other' })).toThrow();
    // the AAD encoding is unambiguous: moving a character across the separator does not open it
    expect(() => cipher.open(sealed, { projectId: 'proj-1s', channelId: 'andbox' })).toThrow();
    const altered = Buffer.from(sealed);
    altered[altered.length - 1]! ^= 1;
    expect(() => cipher.open(altered, owner)).toThrow();
    expect(() => new CredentialsCipher(Buffer.alloc(32, 1)).open(sealed, owner)).toThrow();
    expect(() => cipher.open(Buffer.of(2, ...sealed.subarray(1)), owner)).toThrow(/unknown sealed/);
  });

  it('fingerprints credentials with a key: stable, distinct, and not a plain SHA-256', () => {
    const f = cipher.fingerprint(KEY);
    expect(f).toMatch(/^[0-9a-f]{64}$/);
    expect(cipher.fingerprint(KEY)).toBe(f);
    expect(cipher.fingerprint(`${KEY}x`)).not.toBe(f);
    expect(new CredentialsCipher(Buffer.alloc(32, 1)).fingerprint(KEY)).not.toBe(f);
  });

  it('refuses a master key that is not 32 bytes', () => {
    expect(() => new CredentialsCipher(Buffer.alloc(16))).toThrow(/32 bytes/);
  });
});
