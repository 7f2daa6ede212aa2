import { generateSigningKey } from '@citybase/platform';
import { publishedKeys, RETIRED_KEY_GRACE_SECONDS, type StoredSigningKey } from './signing-keys.domain';

const TTL = 600;
const T0 = new Date('2026-11-22T10:00:00Z');
const at = (seconds: number) => new Date(T0.getTime() + seconds * 1000);

function key(state: StoredSigningKey['state'], retiredAt: Date | null = null): StoredSigningKey {
  const { kid, publicJwk } = generateSigningKey();
  return { kid, publicJwk, state, createdAt: T0, activatedAt: state === 'next' ? null : T0, retiredAt };
}

describe('publishedKeys (the JWKS pruning rule)', () => {
  it('publishes current first, then next, then retired keys newest first', () => {
    const current = key('current');
    const next = key('next');
    const older = key('retired', at(-100));
    const newer = key('retired', at(-10));
    const kids = publishedKeys([older, next, newer, current], T0, TTL).map((k) => k.kid);
    expect(kids).toEqual([current.kid, next.kid, newer.kid, older.kid]);
  });

  it('keeps a retired key until retired_at + token TTL + grace has passed, then drops it', () => {
    const current = key('current');
    const next = key('next');
    const retired = key('retired', T0);
    const lifetime = TTL + RETIRED_KEY_GRACE_SECONDS;
    const published = (now: Date) => publishedKeys([current, next, retired], now, TTL).map((k) => k.kid);
    // a token signed just before retirement expires at T0 + TTL; verifiers may be 30 s behind
    expect(published(at(TTL))).toContain(retired.kid);
    expect(published(at(lifetime - 1))).toContain(retired.kid);
    expect(published(at(lifetime))).toEqual([current.kid, next.kid]);
    expect(published(at(lifetime + 3600))).toEqual([current.kid, next.kid]);
  });

  it('depends on the configured token lifetime', () => {
    const retired = key('retired', T0);
    expect(publishedKeys([retired], at(200), 60)).toEqual([]);
    expect(publishedKeys([retired], at(200), 3600)).toEqual([retired]);
  });

  it('never publishes a retired key without a retirement time', () => {
    expect(publishedKeys([key('retired', null)], T0, TTL)).toEqual([]);
  });
});
