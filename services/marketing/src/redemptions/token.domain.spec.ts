import { generateKeyPairSync } from 'node:crypto';
import { encodeSignedJwt, generateSigningKey, importJwks, signJwt, toJwks } from '@citybase/platform';
import { domainErrorOf } from '@citybase/platform/testing';
import { checkScanAge, tokenClaims, tokenHoldUntil, tokenTtl, verifyToken } from './token.domain';

const NOW = new Date('2026-12-06T00:00:00Z');
const key = generateSigningKey();
const keys = importJwks(toJwks([key.publicJwk]));

async function issued(merchants: string[] = ['m-1'], ttl = 120) {
  const claims = tokenClaims(
    { couponId: 'c-1', campaignId: 'k-1', userId: 'u-1', merchants, nonce: 'r-1' },
    NOW,
    ttl,
  );
  return { claims, token: await signJwt({ ...claims }, { privateKey: key.privateKey, kid: key.kid }) };
}

async function refusal(p: Promise<unknown>) {
  try {
    await p;
  } catch (err) {
    const e = err as { kind: string; code: string };
    return [e.kind, e.code];
  }
  throw new Error('expected a refusal');
}

describe('QR tokens', () => {
  it('carries {coupon, campaign, sub, merchants, iat, exp, nonce} and verifies through its exp second', async () => {
    const { claims, token } = await issued();
    expect(claims).toEqual({
      coupon: 'c-1',
      campaign: 'k-1',
      sub: 'u-1',
      merchants: ['m-1'],
      iat: NOW.getTime() / 1000,
      exp: NOW.getTime() / 1000 + 120,
      nonce: 'r-1',
    });
    const atExp = new Date(NOW.getTime() + 120_000);
    await expect(verifyToken(token, keys, atExp, 'm-1')).resolves.toEqual(claims);
    expect(await refusal(verifyToken(token, keys, new Date(atExp.getTime() + 1), 'm-1'))).toEqual([
      'failed_precondition',
      'TOKEN_EXPIRED',
    ]);
  });

  it('refuses forged tokens: another key, an unknown kid, a changed payload, garbage', async () => {
    const { token } = await issued();
    const other = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
    const [h, p] = token.split('.') as [string, string];
    const payload = JSON.parse(Buffer.from(p, 'base64url').toString()) as Record<string, unknown>;
    const forged = [
      encodeSignedJwt(payload, other, key.kid),
      encodeSignedJwt(payload, other, 'someone-elses-kid'),
      `${h}.${Buffer.from(JSON.stringify({ ...payload, merchants: ['m-2'] })).toString('base64url')}.${token.split('.')[2]}`,
      'not-a-token',
      encodeSignedJwt({ ...payload, coupon: 7 }, key.privateKey, key.kid),
    ];
    for (const t of forged)
      expect(await refusal(verifyToken(t, keys, NOW, 'm-1'))).toEqual(['invalid_argument', 'TOKEN_FORGED']);
  });

  it('refuses a merchant the token does not name; an empty list is any merchant of the operator', async () => {
    const { token } = await issued(['m-1', 'm-2']);
    await expect(verifyToken(token, keys, NOW, 'm-2')).resolves.toBeDefined();
    expect(await refusal(verifyToken(token, keys, NOW, 'm-3'))).toEqual([
      'failed_precondition',
      'TOKEN_WRONG_MERCHANT',
    ]);
    await expect(verifyToken((await issued([])).token, keys, NOW, 'm-3')).resolves.toBeDefined();
  });

  it('a scan stamped before the token was issued counts from its issue', async () => {
    const { token } = await issued();
    await expect(verifyToken(token, keys, new Date(NOW.getTime() - 5000), 'm-1')).resolves.toBeDefined();
  });

  it('ttl 0 is 120; 30-300 otherwise; the hold lasts exp + grace', () => {
    expect(tokenTtl(0)).toBe(120);
    expect(tokenTtl(30)).toBe(30);
    expect(tokenTtl(300)).toBe(300);
    for (const bad of [29, 301, -1, 1.5])
      expect(domainErrorOf(() => tokenTtl(bad)).detail.field).toBe('ttl_seconds');
    expect(tokenHoldUntil(1000, 1800)).toEqual(new Date(2_800_000));
  });

  it('a scan submitted within the grace passes; later, or from the future, is refused', () => {
    const now = new Date(NOW.getTime() + 1800_000);
    expect(() => checkScanAge(NOW, now, 1800)).not.toThrow();
    const late = domainErrorOf(() => checkScanAge(new Date(NOW.getTime() - 1), now, 1800));
    expect([late.kind, late.code]).toEqual(['failed_precondition', 'TOKEN_OFFLINE_TOO_LONG']);
    const future = domainErrorOf(() => checkScanAge(new Date(now.getTime() + 60_000), now, 1800));
    expect(future.detail.field).toBe('scanned_at');
  });
});
