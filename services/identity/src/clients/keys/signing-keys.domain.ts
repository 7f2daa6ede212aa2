import type { PublicJwk } from '@citybase/platform';

export type SigningKeyState = 'next' | 'current' | 'retired';

/** A stored signing key without its private half. */
export interface StoredSigningKey {
  kid: string;
  publicJwk: PublicJwk;
  state: SigningKeyState;
  createdAt: Date;
  activatedAt: Date | null;
  retiredAt: Date | null;
}

/**
 * A retired key stays in the JWKS this long after its token lifetime: a replica that has not yet
 * noticed a rotation (it checks the current kid every KEY_RECHECK_MS) may still sign with the old
 * key for a moment, and verifiers' clocks may lag (verifyJwt allows 30 s of skew).
 */
export const RETIRED_KEY_GRACE_SECONDS = 60;

/** How often a process checks whether another replica rotated the keys. */
export const KEY_RECHECK_MS = 2_000;

/** Retired keys whose retired_at is after this instant are still published at `now`. */
export function retiredKeysCutoff(now: Date, tokenTtlSeconds: number): Date {
  return new Date(now.getTime() - (tokenTtlSeconds + RETIRED_KEY_GRACE_SECONDS) * 1000);
}

/**
 * The keys the JWKS publishes at `now`, in order: the current key, the pre-published next key (so
 * that when it becomes current, verifiers already know its kid), then every retired key that may
 * still have signed an unexpired token (retired_at + token lifetime + grace not yet passed), most
 * recently retired first.
 */
export function publishedKeys(
  keys: readonly StoredSigningKey[],
  now: Date,
  tokenTtlSeconds: number,
): StoredSigningKey[] {
  const cutoff = retiredKeysCutoff(now, tokenTtlSeconds).getTime();
  const current = keys.filter((k) => k.state === 'current');
  const next = keys.filter((k) => k.state === 'next');
  const retired = keys
    .filter((k) => k.state === 'retired' && k.retiredAt !== null && k.retiredAt.getTime() > cutoff)
    .sort((a, b) => (b.retiredAt?.getTime() ?? 0) - (a.retiredAt?.getTime() ?? 0));
  return [...current, ...next, ...retired];
}
