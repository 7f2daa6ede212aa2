import { sign, signedHeaders, verify, verifyHeaders } from './signing';

// The fixed vectors of README.md ("Signing"). The expected hex was computed independently with
//   printf 'POST\n/v1/orders\n1700000000\nn0nce-0123456789\n{"outTradeNo":"pay_1","amount":"100"}' \
//     | openssl dgst -sha256 -hmac 'sandbox-test-key-0123456789abcdef' -hex
const KEY = 'sandbox-test-key-0123456789abcdef';
const TS = '1700000000';
const NONCE = 'n0nce-0123456789';
const VECTORS = [
  {
    name: 'POST with a JSON body',
    method: 'POST',
    path: '/v1/orders',
    body: '{"outTradeNo":"pay_1","amount":"100"}',
    hex: '55d90e78b4ec5751722b6d06e0528448fe98085c6b05acc42c3cf3a8fade561b',
  },
  {
    name: 'GET with an empty body',
    method: 'GET',
    path: '/v1/orders/pay_1',
    body: '',
    hex: '17cedbcfaa54b469d3abcd7cecbf81358526bc49f6bfba822166c24e221a4af0',
  },
  {
    name: 'a notification: path with query, non-ASCII body signed as UTF-8 bytes',
    method: 'POST',
    path: '/notify/sandbox?x=1',
    body: '{"description":"停车费"}',
    hex: 'aff92c879eed43fa14b27b985fa2df5c6096cce7880d10a94b5bac1d01e426c2',
  },
];

describe('sign / verify', () => {
  it.each(VECTORS)('matches the fixed vector: $name', ({ method, path, body, hex }) => {
    expect(sign(KEY, method, path, TS, NONCE, body)).toBe(hex);
    expect(sign(KEY, method, path, Number(TS), NONCE, Buffer.from(body, 'utf8'))).toBe(hex);
    expect(verify(KEY, method, path, TS, NONCE, body, hex)).toBe(true);
  });

  it('refuses any change to key, method, path, timestamp, nonce or body bytes', () => {
    const { method, path, body, hex } = VECTORS[0];
    expect(verify(`${KEY}x`, method, path, TS, NONCE, body, hex)).toBe(false);
    expect(verify(KEY, 'PUT', path, TS, NONCE, body, hex)).toBe(false);
    expect(verify(KEY, method, '/v1/orders/', TS, NONCE, body, hex)).toBe(false);
    expect(verify(KEY, method, path, '1700000001', NONCE, body, hex)).toBe(false);
    expect(verify(KEY, method, path, TS, 'n0nce-0123456788', body, hex)).toBe(false);
    // Re-serialised JSON is not the raw body that was signed.
    expect(verify(KEY, method, path, TS, NONCE, JSON.stringify(JSON.parse(body), null, 1), hex)).toBe(false);
  });

  it('treats malformed signatures as wrong instead of throwing', () => {
    const { method, path, body, hex } = VECTORS[0];
    for (const bad of ['', hex.toUpperCase(), hex.slice(2), `${hex}00`, 'z'.repeat(64)]) {
      expect(verify(KEY, method, path, TS, NONCE, body, bad)).toBe(false);
    }
  });
});

describe('verifyHeaders', () => {
  const keys: Record<string, string> = { m1: KEY };
  const keyOf = (m: string) => keys[m];
  const now = 1_700_000_000;
  const headers = (over: Record<string, string | undefined> = {}, at = now) => ({
    ...signedHeaders('m1', KEY, 'POST', '/v1/refunds', '{"a":1}', at, 'nonce-abcdefgh'),
    ...over,
  });

  it('accepts a well-signed request and names its merchant', () => {
    expect(verifyHeaders(headers(), keyOf, 'POST', '/v1/refunds', '{"a":1}', now)).toEqual({
      ok: true,
      merchantNo: 'm1',
    });
  });

  it.each([
    ['no merchant', { 'x-sandbox-merchant': undefined }],
    ['an unknown merchant', { 'x-sandbox-merchant': 'm2' }],
    ['no timestamp', { 'x-sandbox-timestamp': undefined }],
    ['a non-numeric timestamp', { 'x-sandbox-timestamp': '17e8' }],
    ['a nonce of 7 characters', { 'x-sandbox-nonce': '1234567' }],
    ['a nonce of 65 characters', { 'x-sandbox-nonce': 'n'.repeat(65) }],
    ['no signature', { 'x-sandbox-signature': undefined }],
    ['a wrong signature', { 'x-sandbox-signature': '0'.repeat(64) }],
  ])('refuses %s with SIGN_ERROR', (_what, over) => {
    const result = verifyHeaders(headers(over), keyOf, 'POST', '/v1/refunds', '{"a":1}', now);
    expect(result).toMatchObject({ ok: false, code: 'SIGN_ERROR' });
  });

  it('refuses a body other than the signed one', () => {
    expect(verifyHeaders(headers(), keyOf, 'POST', '/v1/refunds', '{"a":2}', now)).toMatchObject({
      code: 'SIGN_ERROR',
    });
  });

  it('allows 300 s of clock skew either way, and says TIMESTAMP_EXPIRED beyond', () => {
    for (const skew of [-300, 300]) {
      expect(verifyHeaders(headers({}, now + skew), keyOf, 'POST', '/v1/refunds', '{"a":1}', now).ok).toBe(
        true,
      );
    }
    for (const skew of [-301, 301]) {
      expect(
        verifyHeaders(headers({}, now + skew), keyOf, 'POST', '/v1/refunds', '{"a":1}', now),
      ).toMatchObject({
        ok: false,
        code: 'TIMESTAMP_EXPIRED',
      });
    }
  });

  it('says SIGN_ERROR, not TIMESTAMP_EXPIRED, to a stale request with a wrong signature', () => {
    const stale = headers({ 'x-sandbox-signature': 'f'.repeat(64) }, now - 1000);
    expect(verifyHeaders(stale, keyOf, 'POST', '/v1/refunds', '{"a":1}', now)).toMatchObject({
      code: 'SIGN_ERROR',
    });
  });
});
