import { AuthError, decodeUnverified, KeyResolver, verifyJwt } from '@citybase/platform';
import { RedemptionsErrors } from './redemptions.errors';

/**
 * The QR token (docs/marketing.md "QR token"): a compact JWS ES256 (the platform's signJwt, kid in
 * the header) over {coupon, campaign, sub (the holder), merchants, iat, exp, nonce}; the nonce is
 * the id of the TOKEN redemption that holds the coupon while the token lives. `merchants` lists
 * where it may be redeemed (the campaign's merchant and targeted merchants; empty: any merchant of
 * the campaign's operator), so a merchant app offline can refuse a foreign token itself.
 */

/** Lifetime bounds of a token, seconds (IssueRedemptionTokenRequest.ttl_seconds). */
export const TOKEN_TTL = { min: 30, max: 300, default: 120 } as const;

export interface TokenClaims {
  coupon: string;
  campaign: string;
  sub: string;
  merchants: string[];
  /** Epoch seconds. */
  iat: number;
  exp: number;
  nonce: string;
}

/** The claims of a token issued at `now` for `ttlSeconds`. */
export function tokenClaims(
  t: { couponId: string; campaignId: string; userId: string; merchants: readonly string[]; nonce: string },
  now: Date,
  ttlSeconds: number,
): TokenClaims {
  const iat = Math.floor(now.getTime() / 1000);
  return {
    coupon: t.couponId,
    campaign: t.campaignId,
    sub: t.userId,
    merchants: [...t.merchants],
    iat,
    exp: iat + ttlSeconds,
    nonce: t.nonce,
  };
}

/** The TTL a request asks for: 0 means the default; else 30-300 (INVALID_ARGUMENT otherwise). */
export function tokenTtl(ttlSeconds: number | undefined): number {
  const ttl = ttlSeconds ?? 0;
  if (ttl === 0) return TOKEN_TTL.default;
  if (!Number.isInteger(ttl) || ttl < TOKEN_TTL.min || ttl > TOKEN_TTL.max)
    throw RedemptionsErrors.invalid(
      'ttl_seconds',
      `must be from ${TOKEN_TTL.min} to ${TOKEN_TTL.max} (0 means ${TOKEN_TTL.default})`,
    );
  return ttl;
}

/** Until when the token's redemption holds the coupon: the token's expiry plus the offline grace. */
export function tokenHoldUntil(expSeconds: number, graceSeconds: number): Date {
  return new Date((expSeconds + graceSeconds) * 1000);
}

/** Claims as a verified payload carries them; anything else was not signed by us. */
function claimsOf(p: Record<string, unknown>): TokenClaims | undefined {
  const str = (v: unknown): v is string => typeof v === 'string' && v.length > 0;
  const int = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v);
  if (!str(p['coupon']) || !str(p['campaign']) || !str(p['sub']) || !str(p['nonce'])) return undefined;
  if (!int(p['iat']) || !int(p['exp'])) return undefined;
  const merchants = p['merchants'];
  if (!Array.isArray(merchants) || !merchants.every(str)) return undefined;
  return {
    coupon: p['coupon'],
    campaign: p['campaign'],
    sub: p['sub'],
    merchants: merchants as string[],
    iat: p['iat'],
    exp: p['exp'],
    nonce: p['nonce'],
  };
}

/**
 * Verifies a scanned token as of `scannedAt`: signed by one of our keys (TOKEN_FORGED otherwise:
 * a bad signature, an unknown kid, another algorithm, a broken shape), not expired at the scan
 * (TOKEN_EXPIRED), and the merchant scanning it named in it (TOKEN_WRONG_MERCHANT). The scan time
 * is the verifier's clock, without tolerance: a token is good up to and including its `exp`
 * second. A scan stamped before the token was issued counts as made when it was issued.
 */
export async function verifyToken(
  token: string,
  keys: KeyResolver,
  scannedAt: Date,
  merchantId: string,
): Promise<TokenClaims> {
  let payload: Record<string, unknown>;
  try {
    const unverifiedIat = decodeUnverified(token).payload['iat'];
    const iatMs = typeof unverifiedIat === 'number' ? unverifiedIat * 1000 : 0;
    // jose refuses exp <= now (seconds); a token is good through its exp second, so the clock runs
    // one ms behind the scan, and never before the token's issue
    const at = new Date(Math.max(scannedAt.getTime() - 1, iatMs));
    payload = await verifyJwt(token, keys, { now: at, clockToleranceSec: 0 });
  } catch (err) {
    if (err instanceof AuthError) {
      if (err.code === 'TOKEN_EXPIRED') throw RedemptionsErrors.tokenExpired();
      throw RedemptionsErrors.tokenForged(err.code);
    }
    throw err;
  }
  const claims = claimsOf(payload);
  if (!claims) throw RedemptionsErrors.tokenForged('TOKEN_CLAIMS_INVALID');
  if (claims.exp * 1000 < scannedAt.getTime()) throw RedemptionsErrors.tokenExpired();
  if (claims.merchants.length > 0 && !claims.merchants.includes(merchantId))
    throw RedemptionsErrors.tokenWrongMerchant(merchantId);
  return claims;
}

/**
 * A scan submitted at `now` that was made at `scannedAt`: not in the future (beyond the clock
 * tolerance) and at most `graceSeconds` ago (TOKEN_OFFLINE_TOO_LONG).
 */
export function checkScanAge(scannedAt: Date, now: Date, graceSeconds: number, toleranceMs = 30_000): void {
  if (scannedAt.getTime() > now.getTime() + toleranceMs)
    throw RedemptionsErrors.invalid('scanned_at', 'must not be in the future');
  if (now.getTime() - scannedAt.getTime() > graceSeconds * 1000)
    throw RedemptionsErrors.tokenOfflineTooLong(graceSeconds);
}
