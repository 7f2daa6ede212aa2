import { createHash, createPublicKey, generateKeyPairSync, KeyObject } from 'node:crypto';
import { InfrastructureError } from '../errors';
import { JWT_ALG, KeyResolver } from './jwt';

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
 * Imports the usable keys of a fetched JWKS document: EC P-256 public keys with a kid, meant for
 * ES256 signatures. Anything else (RSA keys, encryption keys, a key carrying a private part) is
 * skipped rather than failing the whole document. Throws if the document itself has no `keys` array.
 */
export function importJwks(doc: unknown): Map<string, KeyObject> {
  const list = (doc as { keys?: unknown } | null)?.keys;
  if (!Array.isArray(list)) throw new Error('JWKS document has no keys array');
  const keys = new Map<string, KeyObject>();
  for (const entry of list as unknown[]) {
    if (typeof entry !== 'object' || entry === null) continue;
    const jwk = entry as Record<string, unknown>;
    const { kid, kty, crv, x, y, alg, use, d } = jwk;
    if (typeof kid !== 'string' || kid === '' || keys.has(kid)) continue;
    if (kty !== 'EC' || crv !== 'P-256' || typeof x !== 'string' || typeof y !== 'string') continue;
    if ((alg !== undefined && alg !== JWT_ALG) || (use !== undefined && use !== 'sig') || d !== undefined)
      continue;
    try {
      keys.set(kid, createPublicKey({ key: { kty, crv, x, y }, format: 'jwk' }));
    } catch {
      // not a point on the curve, bad base64: skip this key only
    }
  }
  return keys;
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
 * InfrastructureError (UNAVAILABLE): an outage, not a bad token.
 */
export class JwksCache implements KeyResolver {
  private keys = new Map<string, KeyObject>();
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

  async resolve(kid: string): Promise<KeyObject | undefined> {
    if (this.inflight) await this.inflight;
    else if (this.isStale() && this.mayFetch()) await this.refresh();
    let key = this.keys.get(kid);
    if (!key && this.mayFetch()) {
      await this.refresh();
      key = this.keys.get(kid);
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
