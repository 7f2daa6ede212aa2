import { KeyObject, sign, type webcrypto } from 'node:crypto';
import { errors, jwtVerify } from 'jose';
import { AuthError, AuthErrorCode } from './auth-error';

/**
 * ES256 JWTs (RFC 7519) on `jose`. ES256 is the only algorithm accepted: the algorithm comes from our
 * configuration, never from the token, which closes the `alg: none` and HS256-with-the-public-key
 * attacks. Embedded key headers (`jwk`, `jku`, `x5u`, `x5c`) are ignored: keys come only from the
 * resolver, by `kid`. Before jose sees a token, the checks below refuse what jose would accept more
 * leniently (any `crit`, base64url with junk or padding) and give each refusal its own AuthError code.
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

/** A public key as Node (KeyObject) or WebCrypto (CryptoKey, what jose imports JWKs to) holds it. */
export type VerificationKey = KeyObject | webcrypto.CryptoKey;

/** Finds the public key for a `kid`; undefined if no such key exists (JwksCache implements it). */
export interface KeyResolver {
  resolve(kid: string): Promise<VerificationKey | undefined>;
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

/**
 * Signs `payload` as an ES256 JWT (header `{alg, typ: 'JWT', kid}`), `kid` naming the key in the
 * JWKS. The key must be a P-256 private key; any other is refused (the promise rejects). Signed
 * with node:crypto on the calling thread: jose's WebCrypto path handed every signature to the libuv
 * pool, whose hand-off cost several times the signature itself (issue 11's token-issuance profile).
 */
export async function signJwt(
  payload: JwtPayload,
  opts: { privateKey: KeyObject | webcrypto.CryptoKey; kid: string },
): Promise<string> {
  const key = opts.privateKey instanceof KeyObject ? opts.privateKey : KeyObject.from(opts.privateKey);
  if (
    key.type !== 'private' ||
    key.asymmetricKeyType !== 'ec' ||
    key.asymmetricKeyDetails?.namedCurve !== 'prime256v1'
  ) {
    throw new TypeError(`${JWT_ALG} signing needs a P-256 private key`);
  }
  return encodeSignedJwt(payload, key, opts.kid);
}

/**
 * The compact ES256 JWT of `payload`, signed with `privateKey` as given, unchecked: signJwt checks
 * the key first; the test kit's signJwtSync uses this directly to forge tokens with wrong keys.
 */
export function encodeSignedJwt(payload: JwtPayload, privateKey: KeyObject, kid: string): string {
  const header = { alg: JWT_ALG, typ: 'JWT', kid };
  const input = `${base64urlEncode(JSON.stringify(header))}.${base64urlEncode(JSON.stringify(payload))}`;
  const signature = sign('sha256', Buffer.from(input), { key: privateKey, dsaEncoding: 'ieee-p1363' });
  return `${input}.${base64urlEncode(signature)}`;
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
 * Verifies an ES256 token and returns its payload. Checks, in order: shape, algorithm, `kid`, then
 * (jose) the signature, issuer, audience and time claims (`exp` is required), then that `iat` is not
 * in the future. Every refusal is an AuthError with its own code. Errors thrown by the resolver
 * itself (e.g. the JWKS cannot be fetched at all) propagate unchanged: an outage is not the caller's
 * fault.
 */
export async function verifyJwt(
  token: string,
  keys: KeyResolver,
  opts: VerifyOptions = {},
): Promise<JwtPayload> {
  const { header } = decodeUnverified(token);
  if (header.alg !== JWT_ALG) {
    throw new AuthError('TOKEN_ALG_UNSUPPORTED', `token alg must be ${JWT_ALG}`);
  }
  if (header['crit'] !== undefined) {
    // RFC 7515 §4.1.11: refuse critical extensions we do not understand (all of them; jose knows b64).
    throw new AuthError('TOKEN_MALFORMED', 'token header has unsupported critical extensions');
  }
  if (typeof header.kid !== 'string' || header.kid === '') {
    throw new AuthError('TOKEN_KID_MISSING', 'token header has no kid');
  }
  const key = await keys.resolve(header.kid);
  if (!key) throw new AuthError('TOKEN_KID_UNKNOWN', 'token is signed by an unknown key');
  // A resolver could hand back any key type; a P-384 key must not verify a token claiming ES256.
  if (!isP256PublicKey(key)) throw new AuthError('TOKEN_SIGNATURE_INVALID', 'token signature is invalid');

  const now = opts.now ?? new Date();
  const tolerance = opts.clockToleranceSec ?? 30;
  let payload: JwtPayload;
  try {
    ({ payload } = await jwtVerify(token, key, {
      algorithms: [JWT_ALG],
      currentDate: now,
      clockTolerance: tolerance,
      issuer: opts.issuer,
      audience: opts.audience,
      // Citybase tokens are short-lived by design: a token without an expiry is never accepted.
      requiredClaims: ['exp'],
    }));
  } catch (err) {
    throw toAuthError(err);
  }
  // jose checks that iat is a number; a token issued in the future is refused here.
  const iat = payload['iat'];
  if (typeof iat === 'number' && iat > Math.floor(now.getTime() / 1000) + tolerance) {
    throw new AuthError('TOKEN_NOT_YET_VALID', 'token is issued in the future (iat)');
  }
  return payload;
}

function isP256PublicKey(key: VerificationKey): boolean {
  if (key instanceof KeyObject) {
    return (
      key.type === 'public' &&
      key.asymmetricKeyType === 'ec' &&
      key.asymmetricKeyDetails?.namedCurve === 'prime256v1'
    );
  }
  const algorithm = key.algorithm as webcrypto.EcKeyAlgorithm;
  return key.type === 'public' && algorithm.name === 'ECDSA' && algorithm.namedCurve === 'P-256';
}

/** jose's refusals as our codes; anything that is not a JOSE error is a bug and propagates. */
function toAuthError(err: unknown): unknown {
  const refuse = (code: AuthErrorCode, message: string) => new AuthError(code, message);
  if (err instanceof errors.JWTExpired) return refuse('TOKEN_EXPIRED', 'token has expired');
  if (err instanceof errors.JWTClaimValidationFailed) {
    switch (err.claim) {
      case 'iss':
        return refuse('TOKEN_ISSUER_INVALID', 'token issuer is not accepted here');
      case 'aud':
        return refuse('TOKEN_AUDIENCE_INVALID', 'token audience does not include this service');
      case 'nbf':
      case 'iat':
        if (err.reason === 'check_failed') {
          return refuse('TOKEN_NOT_YET_VALID', `token is not valid yet (${err.claim})`);
        }
    }
    return refuse('TOKEN_CLAIMS_INVALID', `token ${err.claim} is missing or invalid`);
  }
  if (err instanceof errors.JWSSignatureVerificationFailed) {
    return refuse('TOKEN_SIGNATURE_INVALID', 'token signature is invalid');
  }
  if (err instanceof errors.JOSEAlgNotAllowed) {
    return refuse('TOKEN_ALG_UNSUPPORTED', `token alg must be ${JWT_ALG}`);
  }
  if (err instanceof errors.JOSEError) return refuse('TOKEN_MALFORMED', 'token is malformed');
  return err;
}
