import { randomBytes } from 'node:crypto';
import { DomainError } from '@citybase/platform';
import { maskIdNumber, maskPhone, PiiCipher, requiredIdNumber, requiredPhone } from './pii';

describe('PiiCipher', () => {
  const cipher = new PiiCipher(randomBytes(32));

  it('round-trips, binds the context and never repeats a ciphertext', () => {
    const a = cipher.encrypt('13812345678', 'resident.phone');
    const b = cipher.encrypt('13812345678', 'resident.phone');
    expect(a.equals(b)).toBe(false);
    expect(a.includes(Buffer.from('13812345678'))).toBe(false);
    expect(cipher.decrypt(a, 'resident.phone')).toBe('13812345678');
    expect(() => cipher.decrypt(a, 'courier.phone')).toThrow();
    const tampered = Buffer.from(a);
    tampered[tampered.length - 1] ^= 1;
    expect(() => cipher.decrypt(tampered, 'resident.phone')).toThrow();
  });

  it('lookup hashes are deterministic per key and kind', () => {
    expect(cipher.lookupHash('phone', '13812345678').equals(cipher.lookupHash('phone', '13812345678'))).toBe(
      true,
    );
    expect(cipher.lookupHash('phone', '1').equals(cipher.lookupHash('id_number', '1'))).toBe(false);
    const other = new PiiCipher(randomBytes(32));
    expect(other.lookupHash('phone', '13812345678').equals(cipher.lookupHash('phone', '13812345678'))).toBe(
      false,
    );
  });
});

describe('masking and validation', () => {
  it('masks', () => {
    expect(maskPhone('13812345678')).toBe('138****5678');
    expect(maskIdNumber('11010519491231002X')).toBe('1101**********002X');
  });

  it('normalises phones and refuses malformed ones naming the field', () => {
    expect(requiredPhone('phone', '+86 138-1234-5678')).toBe('13812345678');
    for (const bad of ['', '12812345678', '1381234567', '138123456789', 'abc', '2'.repeat(40)]) {
      expect(() => requiredPhone('phone', bad)).toThrow(DomainError);
      expect(() => requiredPhone('phone', bad)).toThrow(/^phone: /);
    }
  });

  it('checks the ID number format, birth date and check digit', () => {
    expect(requiredIdNumber('id_number', '11010519491231002x')).toBe('11010519491231002X');
    expect(requiredIdNumber('id_number', '110101199003074514')).toBe('110101199003074514');
    expect(() => requiredIdNumber('id_number', '110101199003074515')).toThrow(/check digit/);
    expect(() => requiredIdNumber('id_number', '110101199002304513')).toThrow(/birth date/);
    expect(() => requiredIdNumber('id_number', '11010119900307451')).toThrow(/18 characters/);
    expect(() => requiredIdNumber('id_number', '')).toThrow(/is required/);
  });
});
