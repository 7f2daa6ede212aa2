// Request and notification signatures of the sandbox channel (docs/sandbox-channel.md, "Authentication"):
// lowercase hex HMAC-SHA256(key, `${method}\n${path}\n${timestamp}\n${nonce}\n${body}`), where the key
// is the merchant key's UTF-8 bytes, `path` is the request target exactly as sent on the request line
// (path plus any query string) and `body` is the raw body bytes (empty for a GET). Payment's
// SandboxAdapter must produce the same hex: the fixed vector in README.md is checked in signing.spec.ts.
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

export const HEADER_MERCHANT = 'x-sandbox-merchant';
export const HEADER_TIMESTAMP = 'x-sandbox-timestamp';
export const HEADER_NONCE = 'x-sandbox-nonce';
export const HEADER_SIGNATURE = 'x-sandbox-signature';

/** How far a request's timestamp may be from the sandbox's clock. */
export const MAX_CLOCK_SKEW_SECONDS = 300;

export function sign(
  key: string,
  method: string,
  path: string,
  timestamp: string | number,
  nonce: string,
  body: string | Buffer,
): string {
  return createHmac('sha256', Buffer.from(key, 'utf8'))
    .update(`${method}\n${path}\n${timestamp}\n${nonce}\n`, 'utf8')
    .update(typeof body === 'string' ? Buffer.from(body, 'utf8') : body)
    .digest('hex');
}

/** Constant-time check of a signature; anything that is not 64 lowercase hex digits is simply wrong. */
export function verify(
  key: string,
  method: string,
  path: string,
  timestamp: string | number,
  nonce: string,
  body: string | Buffer,
  signature: string,
): boolean {
  if (!/^[0-9a-f]{64}$/.test(signature)) return false;
  const expected = Buffer.from(sign(key, method, path, timestamp, nonce, body), 'hex');
  return timingSafeEqual(expected, Buffer.from(signature, 'hex'));
}

/** The four headers of a signed request or notification. */
export function signedHeaders(
  merchantNo: string,
  key: string,
  method: string,
  path: string,
  body: string | Buffer,
  nowSeconds: number = Math.floor(Date.now() / 1000),
  nonce: string = randomBytes(16).toString('hex'),
): Record<string, string> {
  const timestamp = String(nowSeconds);
  return {
    [HEADER_MERCHANT]: merchantNo,
    [HEADER_TIMESTAMP]: timestamp,
    [HEADER_NONCE]: nonce,
    [HEADER_SIGNATURE]: sign(key, method, path, timestamp, nonce, body),
  };
}

export type SignatureCheck =
  { ok: true; merchantNo: string } | { ok: false; code: 'SIGN_ERROR' | 'TIMESTAMP_EXPIRED'; message: string };

/**
 * Checks the four headers of a request (or, on the receiving side, of a notification). The
 * signature is checked before the timestamp, so TIMESTAMP_EXPIRED is only ever said to a caller
 * that holds the key.
 */
export function verifyHeaders(
  headers: Record<string, string | string[] | undefined>,
  keyOf: (merchantNo: string) => string | undefined,
  method: string,
  path: string,
  body: string | Buffer,
  nowSeconds: number = Math.floor(Date.now() / 1000),
): SignatureCheck {
  const header = (name: string): string | undefined => {
    const v = headers[name];
    return Array.isArray(v) ? undefined : v;
  };
  const merchantNo = header(HEADER_MERCHANT);
  const timestamp = header(HEADER_TIMESTAMP);
  const nonce = header(HEADER_NONCE);
  const signature = header(HEADER_SIGNATURE);
  const refuse = (message: string): SignatureCheck => ({ ok: false, code: 'SIGN_ERROR', message });
  if (!merchantNo) return refuse(`${HEADER_MERCHANT}: required`);
  if (!timestamp || !/^\d{1,12}$/.test(timestamp)) return refuse(`${HEADER_TIMESTAMP}: must be unix seconds`);
  if (!nonce || !/^[\x21-\x7e]{8,64}$/.test(nonce))
    return refuse(`${HEADER_NONCE}: must be 8-64 visible characters`);
  if (!signature) return refuse(`${HEADER_SIGNATURE}: required`);
  const key = keyOf(merchantNo);
  // An unknown merchant gets the same answer as a wrong signature.
  if (key === undefined || !verify(key, method, path, timestamp, nonce, body, signature)) {
    return refuse('signature does not match');
  }
  if (Math.abs(nowSeconds - Number(timestamp)) > MAX_CLOCK_SKEW_SECONDS) {
    return {
      ok: false,
      code: 'TIMESTAMP_EXPIRED',
      message: `${HEADER_TIMESTAMP}: more than ${MAX_CLOCK_SKEW_SECONDS} s from the sandbox clock`,
    };
  }
  return { ok: true, merchantNo };
}
