import { CROCKFORD, newCode, newCodes, UNIQUE_CODE } from './codes.domain';

describe('codes rules', () => {
  it('makes 16 Crockford base32 characters from 80 random bits, every character reachable', () => {
    const seen = new Set<string>();
    for (const code of newCodes(2_000)) {
      expect(code).toMatch(UNIQUE_CODE);
      for (const ch of code) seen.add(ch);
    }
    expect([...seen].sort().join('')).toBe([...CROCKFORD].sort().join(''));
    expect(newCode()).not.toBe(newCode());
  });
});
