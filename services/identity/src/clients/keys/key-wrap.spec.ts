import { createCipheriv, hkdfSync, randomBytes, sign, verify } from 'node:crypto';
import { generateSigningKey } from '@citybase/platform';
import { SigningKeyWrap } from './key-wrap';

describe('SigningKeyWrap', () => {
  const master = randomBytes(32);
  const wrap = new SigningKeyWrap(master);
  const key = generateSigningKey();

  it('round-trips the private key and keeps no plain DER in the blob', () => {
    const sealed = wrap.wrap(key.privateKey, key.kid);
    const der = key.privateKey.export({ format: 'der', type: 'pkcs8' });
    expect(sealed.includes(der.subarray(der.length - 32))).toBe(false);
    const back = wrap.unwrap(sealed, key.kid);
    const signature = sign('sha256', Buffer.from('x'), back);
    expect(verify('sha256', Buffer.from('x'), key.privateKey, signature)).toBe(true);
    expect(wrap.wrap(key.privateKey, key.kid).equals(sealed)).toBe(false); // fresh IV every time
  });

  it('refuses another kid, another master key and any altered byte', () => {
    const sealed = wrap.wrap(key.privateKey, key.kid);
    expect(() => wrap.unwrap(sealed, 'another-kid')).toThrow();
    expect(() => new SigningKeyWrap(randomBytes(32)).unwrap(sealed, key.kid)).toThrow();
    for (const i of [0, 5, 20, sealed.length - 1]) {
      const bad = Buffer.from(sealed);
      bad[i] = (bad[i] ?? 0) ^ 1;
      expect(() => wrap.unwrap(bad, key.kid)).toThrow();
    }
  });

  it('wraps under HKDF(master, info "citybase identity signing key wrap v1"), not the master or PII key', () => {
    const der = key.privateKey.export({ format: 'der', type: 'pkcs8' });
    const sealWith = (aesKey: Buffer) => {
      const iv = randomBytes(12);
      const cipher = createCipheriv('aes-256-gcm', aesKey, iv);
      cipher.setAAD(Buffer.from(key.kid));
      const body = Buffer.concat([cipher.update(der), cipher.final()]);
      return Buffer.concat([Buffer.of(1), iv, cipher.getAuthTag(), body]);
    };
    const derive = (info: string) => Buffer.from(hkdfSync('sha256', master, Buffer.alloc(0), info, 32));
    expect(wrap.unwrap(sealWith(derive('citybase identity signing key wrap v1')), key.kid).type).toBe(
      'private',
    );
    expect(() => wrap.unwrap(sealWith(master), key.kid)).toThrow();
    expect(() => wrap.unwrap(sealWith(derive('citybase identity pii encryption v1')), key.kid)).toThrow();
    expect(() => new SigningKeyWrap(randomBytes(16))).toThrow(/32 bytes/);
  });
});
