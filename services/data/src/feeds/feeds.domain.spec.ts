import { DomainError } from '@citybase/platform';
import { csvField, decodeCursor, encodeCursor, secondsToNextUtcDay, START } from './feeds.domain';

describe('feed cursors', () => {
  it('round-trips and refuses anything it did not issue', () => {
    const c = { txid: '123456', seq: '42' };
    expect(decodeCursor(encodeCursor(c))).toEqual(c);
    expect(decodeCursor('')).toEqual(START);
    for (const bad of [
      'x',
      Buffer.from('v1:1').toString('base64url'),
      Buffer.from('v2:1:2').toString('base64url'),
      Buffer.from('v1:01:2').toString('base64url'),
    ]) {
      expect(() => decodeCursor(bad)).toThrow(DomainError);
    }
  });
});

describe('CSV and quota helpers', () => {
  it('quotes CSV fields only when needed', () => {
    expect(csvField('a')).toBe('a');
    expect(csvField('a,b')).toBe('"a,b"');
    expect(csvField('say "hi"')).toBe('"say ""hi"""');
    expect(csvField(null)).toBe('');
    expect(csvField(12)).toBe('12');
  });

  it('counts the seconds to the next UTC day', () => {
    expect(secondsToNextUtcDay(new Date('2026-01-01T23:59:30Z'))).toBe(30);
  });
});
