import { createHash, generateKeyPairSync, KeyObject } from 'node:crypto';
import { createLocalJWKSet, type JWK } from 'jose';
import { InfrastructureError } from '../errors';
import { JWT_ALG, KeyResolver, VerificationKey } from './jwt';

/** The public half of a signing key as published in the JWKS (RFC 7517, EC P-256 only). */
export interface PublicJwk {
  kty: 'EC';
  crv: 'P-256';
  x: string;
  y: string;
  kid: string;
  alg: 'ES256';
  use: 'sig';
}

export interface JwksDocument {
  keys: PublicJwk[];
}

export interface SigningKey {
  kid: string;
  privateKey: KeyObject;
  publicJwk: PublicJwk;
}

/**
 * RFC 7638 thumbprint of an EC key: SHA-256 over its required members in lexicographic order. Used
 * as the `kid`, so a kid names exactly one key and two keys can never share one.
 */
export function jwkThumbprint(jwk: { crv: string; kty: string; x: string; y: string }): string {
  const canonical = JSON.stringify({ crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y });
  return createHash('sha256').update(canonical).digest('base64url');
}

/** A new P-256 signing key, for identity's key rotation. Only `publicJwk` may leave the process. */
export function generateSigningKey(): SigningKey {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const { x, y } = publicKey.export({ format: 'jwk' });
  if (typeof x !== 'string' || typeof y !== 'string') throw new Error('P-256 key export without x/y');
  const kid = jwkThumbprint({ crv: 'P-256', kty: 'EC', x, y });
  return { kid, privateKey, publicJwk: { kty: 'EC', crv: 'P-256', x, y, kid, alg: JWT_ALG, use: 'sig' } };
}

/**
 * The JWKS document to publish: the current key and every older key whose tokens may still be
 * valid. Copies only the public members, so a private `d` handed in by mistake is never published;
 * a repeated kid is listed once.
 */
export function toJwks(publicJwks: readonly PublicJwk[]): JwksDocument {
  const seen = new Set<string>();
  const keys: PublicJwk[] = [];
  for (const { kty, crv, x, y, kid, alg, use } of publicJwks) {
    if (seen.has(kid)) continue;
    seen.add(kid);
    keys.push({ kty, crv, x, y, kid, alg, use });
  }
  return { keys };
}

/**
 * The keys of a fetched JWKS document, looked up by kid through jose's createLocalJWKSet: only EC
 * P-256 public keys meant for ES256 signatures resolve. jose refuses a whole document for one entry
 * that is not an object and reports a repeated kid as ambiguous, so those are dropped first (the first
 * entry of a kid wins), as are entries carrying a private part. A key that jose cannot use (RSA, `use:
 * enc`, another alg, not a point on the curve) resolves to undefined, like an unknown kid, and never
 * fails the other keys. Throws if the document itself has no `keys` array.
 */
export function importJwks(doc: unknown): KeyResolver {
  const list = (doc as { keys?: unknown } | null)?.keys;
  if (!Array.isArray(list)) throw new Error('JWKS document has no keys array');
  const kids = new Set<string>();
  const usable: JWK[] = [];
  for (const entry of list as unknown[]) {
    if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) continue;
    const jwk = entry as JWK;
    if (typeof jwk.kid !== 'string' || jwk.kid === '' || kids.has(jwk.kid) || jwk.d !== undefined) continue;
    kids.add(jwk.kid);
    usable.push(jwk);
  }
  const keySet = createLocalJWKSet({ keys: usable });
  return {
    async resolve(kid: string): Promise<VerificationKey | undefined> {
      if (!kids.has(kid)) return undefined;
      try {
        return await keySet({ alg: JWT_ALG, kid });
      } catch {
        return undefined; // no usable key under that kid (wrong type, use, alg or curve; bad point)
      }
    },
  };
}

export interface JwksCacheOptions {
  /** Where identity publishes the JWKS, e.g. http://identity:8080/.well-known/jwks.json. */
  url: string;
  /** Keys are refetched after this age, which is how removed (retired or revoked) keys drop out. Default 300. */
  maxAgeSec?: number;
  /**
   * At most one fetch per this many seconds, whatever triggers it: a flood of tokens with random
   * kids costs identity one request per window, not one per token. Default 5.
   */
  minRefetchIntervalSec?: number;
  /** Per fetch. Default 3000. */
  timeoutMs?: number;
  /** Injected for tests; defaults to the global fetch. */
  fetch?: typeof fetch;
  /** Milliseconds clock, injected for tests. */
  now?: () => number;
  /** Told about every failed fetch (the cache keeps serving the keys it has). */
  onRefreshError?: (err: unknown) => void;
}

/**
 * Public keys by kid from identity's JWKS, verified locally on every call. Refetches when the keys
 * are older than maxAge or a token names a kid it has not seen (identity rotated), never more than
 * once per minRefetchInterval, and concurrent callers share one fetch. When a fetch fails it keeps
 * serving the keys it already has; only if it has never loaded any does resolve() throw an
 * InfrastructureError (UNAVAILABLE): an outage, not a bad token. Each fetched document becomes a
 * jose local key set (importJwks). jose's createRemoteJWKSet is not used: it neither serves stale keys
 * when a refetch fails nor throttles failed fetches, and its clock cannot be injected.
 */
export class JwksCache implements KeyResolver {
  private keys: KeyResolver | undefined;
  private loadedAt: number | undefined;
  private lastAttemptAt = Number.NEGATIVE_INFINITY;
  private inflight: Promise<void> | undefined;
  private fetches = 0;
  private readonly maxAgeMs: number;
  private readonly minIntervalMs: number;
  private readonly timeoutMs: number;
  private readonly fetchFn: typeof fetch;
  private readonly now: () => number;

  constructor(private readonly opts: JwksCacheOptions) {
    this.maxAgeMs = (opts.maxAgeSec ?? 300) * 1000;
    this.minIntervalMs = (opts.minRefetchIntervalSec ?? 5) * 1000;
    this.timeoutMs = opts.timeoutMs ?? 3000;
    this.fetchFn = opts.fetch ?? ((input, init) => fetch(input, init));
    this.now = opts.now ?? Date.now;
  }

  async resolve(kid: string): Promise<VerificationKey | undefined> {
    if (this.inflight) await this.inflight;
    else if (this.isStale() && this.mayFetch()) await this.refresh();
    let key = await this.keys?.resolve(kid);
    if (!key && this.mayFetch()) {
      await this.refresh();
      key = await this.keys?.resolve(kid);
    }
    if (!key && this.loadedAt === undefined) {
      throw new InfrastructureError('unavailable', 'signing keys are not available yet (JWKS fetch failed)');
    }
    return key;
  }

  /** Fetches made so far (successful or not), for tests and metrics. */
  get fetchCount(): number {
    return this.fetches;
  }

  private isStale(): boolean {
    return this.loadedAt === undefined || this.now() - this.loadedAt >= this.maxAgeMs;
  }

  private mayFetch(): boolean {
    return this.now() - this.lastAttemptAt >= this.minIntervalMs;
  }

  private refresh(): Promise<void> {
    this.inflight ??= this.fetchKeys().finally(() => {
      this.inflight = undefined;
    });
    return this.inflight;
  }

  private async fetchKeys(): Promise<void> {
    this.lastAttemptAt = this.now();
    this.fetches += 1;
    try {
      const res = await this.fetchFn(this.opts.url, {
        headers: { accept: 'application/json' },
        signal: AbortSignal.timeout(this.timeoutMs),
      });
      if (!res.ok) throw new Error(`JWKS ${this.opts.url} answered HTTP ${res.status}`);
      this.keys = importJwks(await res.json());
      this.loadedAt = this.now();
    } catch (err) {
      this.opts.onRefreshError?.(err);
    }
  }
}
