import { KeyObject, sign, verify } from 'node:crypto';
import { AuthError } from './auth-error';

/**
 * ES256 JWTs (RFC 7519 compact serialization, RFC 7518 §3.4 signatures) with node:crypto only.
 * ES256 is the only algorithm accepted: the algorithm comes from our configuration, never from the
 * token, which closes the `alg: none` and HS256-with-the-public-key attacks. Embedded key headers
 * (`jwk`, `jku`, `x5u`, `x5c`) are ignored: keys come only from the resolver, by `kid`.
 */

export const JWT_ALG = 'ES256';
/** Longer tokens are refused before any decoding (gRPC metadata is limited to 8 KiB anyway). */
export const MAX_TOKEN_LENGTH = 8192;
const BASE64URL = /^[A-Za-z0-9_-]*$/;

export interface JwtHeader {
  alg: string;
  typ?: string;
  kid?: string;
  [name: string]: unknown;
}

export type JwtPayload = Record<string, unknown>;

export interface DecodedJwt {
  header: JwtHeader;
  payload: JwtPayload;
  /** `base64url(header).base64url(payload)`: the bytes the signature covers. */
  signingInput: string;
  signature: Buffer;
}

/** Finds the public key for a `kid`; undefined if no such key exists (JwksCache implements it). */
export interface KeyResolver {
  resolve(kid: string): Promise<KeyObject | undefined>;
}

export interface VerifyOptions {
  /** The verifier's clock; defaults to the current time. */
  now?: Date;
  /** Allowed clock skew between issuer and verifier, for exp, nbf and iat. Default 30 s. */
  clockToleranceSec?: number;
  /** If set, `iss` must equal it. */
  issuer?: string;
  /** If set, `aud` (a string or an array of strings) must contain it. */
  audience?: string;
}

export function base64urlEncode(data: Buffer | string): string {
  return Buffer.from(data).toString('base64url'); // Node's base64url never pads
}

/**
 * Strict base64url: Buffer.from(s, 'base64url') silently skips characters outside the alphabet, so a
 * token with junk in it would otherwise decode as if the junk were not there.
 */
function base64urlDecode(part: string, what: string): Buffer {
  if (!BASE64URL.test(part) || part.length % 4 === 1) {
    throw new AuthError('TOKEN_MALFORMED', `token ${what} is not base64url without padding`);
  }
  return Buffer.from(part, 'base64url');
}

function parseJsonObject(bytes: Buffer, what: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(bytes.toString('utf8'));
  } catch {
    throw new AuthError('TOKEN_MALFORMED', `token ${what} is not JSON`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new AuthError('TOKEN_MALFORMED', `token ${what} is not a JSON object`);
  }
  return value as Record<string, unknown>;
}

/** Signs `payload` as an ES256 JWT whose header names `kid`, the key's id in the JWKS. */
export function signJwt(payload: JwtPayload, opts: { privateKey: KeyObject; kid: string }): string {
  const header: JwtHeader = { alg: JWT_ALG, typ: 'JWT', kid: opts.kid };
  const signingInput = `${base64urlEncode(JSON.stringify(header))}.${base64urlEncode(JSON.stringify(payload))}`;
  const signature = sign('sha256', Buffer.from(signingInput), {
    key: opts.privateKey,
    dsaEncoding: 'ieee-p1363',
  });
  return `${signingInput}.${base64urlEncode(signature)}`;
}

/**
 * Splits and parses a token WITHOUT checking its signature: for verifyJwt and for diagnostics only.
 * Nothing read here may be trusted. Throws AuthError TOKEN_MALFORMED.
 */
export function decodeUnverified(token: string): DecodedJwt {
  if (token.length > MAX_TOKEN_LENGTH) {
    throw new AuthError('TOKEN_MALFORMED', `token is longer than ${MAX_TOKEN_LENGTH} characters`);
  }
  const parts = token.split('.');
  if (parts.length !== 3) {
    throw new AuthError('TOKEN_MALFORMED', 'token is not three dot-separated parts');
  }
  const [h, p, s] = parts as [string, string, string];
  const header = parseJsonObject(base64urlDecode(h, 'header'), 'header');
  if (typeof header['alg'] !== 'string') {
    throw new AuthError('TOKEN_MALFORMED', 'token header has no alg');
  }
  return {
    header: header as JwtHeader,
    payload: parseJsonObject(base64urlDecode(p, 'payload'), 'payload'),
    signingInput: `${h}.${p}`,
    signature: base64urlDecode(s, 'signature'),
  };
}

/**
 * Verifies an ES256 token and returns its payload. Checks, in order: shape, algorithm, `kid`,
 * signature, then the time claims (`exp` is required) and the optional issuer and audience. Every
 * refusal is an AuthError with its own code. Errors thrown by the resolver itself (e.g. the JWKS
 * cannot be fetched at all) propagate unchanged: an outage is not the caller's fault.
 */
export async function verifyJwt(
  token: string,
  keys: KeyResolver,
  opts: VerifyOptions = {},
): Promise<JwtPayload> {
  const { header, payload, signingInput, signature } = decodeUnverified(token);
  if (header.alg !== JWT_ALG) {
    throw new AuthError('TOKEN_ALG_UNSUPPORTED', `token alg must be ${JWT_ALG}`);
  }
  if (header['crit'] !== undefined) {
    // RFC 7515 §4.1.11: a verifier must refuse critical extensions it does not understand (all of them).
    throw new AuthError('TOKEN_MALFORMED', 'token header has unsupported critical extensions');
  }
  if (typeof header.kid !== 'string' || header.kid === '') {
    throw new AuthError('TOKEN_KID_MISSING', 'token header has no kid');
  }
  const key = await keys.resolve(header.kid);
  if (!key) throw new AuthError('TOKEN_KID_UNKNOWN', 'token is signed by an unknown key');
  // A resolver could hand back any key type; a P-384 key would accept an ES384 signature as "ES256".
  if (!isP256PublicKey(key)) throw new AuthError('TOKEN_SIGNATURE_INVALID', 'token signature is invalid');
  let valid: boolean;
  try {
    // ieee-p1363: the JOSE form, r||s of 32 bytes each; a DER signature or any other length is invalid
    valid = verify('sha256', Buffer.from(signingInput), { key, dsaEncoding: 'ieee-p1363' }, signature);
  } catch {
    valid = false;
  }
  if (!valid) throw new AuthError('TOKEN_SIGNATURE_INVALID', 'token signature is invalid');

  checkTimes(payload, opts);
  if (opts.issuer !== undefined && payload['iss'] !== opts.issuer) {
    throw new AuthError('TOKEN_ISSUER_INVALID', 'token issuer is not accepted here');
  }
  if (opts.audience !== undefined && !audienceContains(payload['aud'], opts.audience)) {
    throw new AuthError('TOKEN_AUDIENCE_INVALID', 'token audience does not include this service');
  }
  return payload;
}

function isP256PublicKey(key: KeyObject): boolean {
  return (
    key.type === 'public' &&
    key.asymmetricKeyType === 'ec' &&
    key.asymmetricKeyDetails?.namedCurve === 'prime256v1'
  );
}

function checkTimes(payload: JwtPayload, opts: VerifyOptions): void {
  const now = Math.floor((opts.now ?? new Date()).getTime() / 1000);
  const tolerance = opts.clockToleranceSec ?? 30;
  const { exp, nbf, iat } = payload;
  // Citybase tokens are short-lived by design: a token without an expiry is never accepted.
  if (!isNumericDate(exp))
    throw new AuthError('TOKEN_CLAIMS_INVALID', 'token exp is missing or not a number');
  if (nbf !== undefined && !isNumericDate(nbf)) {
    throw new AuthError('TOKEN_CLAIMS_INVALID', 'token nbf is not a number');
  }
  if (iat !== undefined && !isNumericDate(iat)) {
    throw new AuthError('TOKEN_CLAIMS_INVALID', 'token iat is not a number');
  }
  if (now >= exp + tolerance) throw new AuthError('TOKEN_EXPIRED', 'token has expired');
  if (nbf !== undefined && nbf > now + tolerance) {
    throw new AuthError('TOKEN_NOT_YET_VALID', 'token is not valid yet (nbf)');
  }
  if (iat !== undefined && iat > now + tolerance) {
    throw new AuthError('TOKEN_NOT_YET_VALID', 'token is issued in the future (iat)');
  }
}

function isNumericDate(v: unknown): v is number {
  return typeof v === 'number' && Number.isFinite(v);
}

function audienceContains(aud: unknown, audience: string): boolean {
  if (typeof aud === 'string') return aud === audience;
  return Array.isArray(aud) && aud.includes(audience);
}
