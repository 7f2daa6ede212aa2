import type { Request } from 'express';
import { DomainError } from '@citybase/platform';
import { readTokenRequest } from './tokens.http';
import { parseScopeParam } from './tokens.service';

function fakeRequest(opts: {
  body?: Record<string, unknown>;
  authorization?: string;
  contentType?: string;
  query?: Record<string, unknown>;
}): Request {
  const contentType = opts.contentType ?? 'application/x-www-form-urlencoded';
  return {
    body: opts.body ?? {},
    query: opts.query ?? {},
    headers: opts.authorization === undefined ? {} : { authorization: opts.authorization },
    is: (type: string) => (contentType.startsWith(type) ? type : false),
  } as unknown as Request;
}

const basic = (id: string, secret: string) =>
  `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}`;

describe('readTokenRequest (POST /oauth/token)', () => {
  it('reads credentials from the form body', () => {
    const { request, basic: usedBasic } = readTokenRequest(
      fakeRequest({
        body: { grant_type: 'client_credentials', client_id: 'cb_x', client_secret: 's', scope: 'a b' },
      }),
    );
    expect(usedBasic).toBe(false);
    expect(request).toEqual({
      grantType: 'client_credentials',
      clientId: 'cb_x',
      clientSecret: 's',
      scope: 'a b',
    });
  });

  it('reads credentials from HTTP Basic, form-url-decoded (RFC 6749 §2.3.1)', () => {
    const { request, basic: usedBasic } = readTokenRequest(
      fakeRequest({ body: { grant_type: 'client_credentials' }, authorization: basic('cb_x', 'a:b c+d%') }),
    );
    expect(usedBasic).toBe(true);
    expect(request.clientId).toBe('cb_x');
    expect(request.clientSecret).toBe('a:b c+d%');
  });

  it.each([
    ['a JSON body', fakeRequest({ contentType: 'application/json' })],
    ['a repeated parameter', fakeRequest({ body: { grant_type: ['client_credentials', 'x'] } })],
    ['credentials in both places', fakeRequest({ body: { client_id: 'x' }, authorization: basic('x', 'y') })],
    ['a secret in the URL', fakeRequest({ query: { client_secret: 'y' } })],
    ['a Bearer header', fakeRequest({ authorization: 'Bearer abc' })],
    ['malformed Basic', fakeRequest({ authorization: 'Basic !!!' })],
    [
      'Basic without a colon',
      fakeRequest({ authorization: `Basic ${Buffer.from('nocolon').toString('base64')}` }),
    ],
  ])('refuses %s as invalid_request', (_what, req) => {
    expect(() => readTokenRequest(req)).toThrow(expect.objectContaining({ error: 'invalid_request' }));
  });
});

describe('parseScopeParam', () => {
  it('splits on single spaces and collapses repeats; empty means all', () => {
    expect(parseScopeParam('a:b c:d a:b')).toEqual(['a:b', 'c:d']);
    expect(parseScopeParam('')).toBeUndefined();
    expect(parseScopeParam(undefined)).toBeUndefined();
  });

  it.each(['a  b', ' a', 'a ', 'quo"te', 'back\\slash', 'x'.repeat(4001)])(
    'refuses %j naming scope',
    (bad) => {
      try {
        parseScopeParam(bad);
        throw new Error('accepted');
      } catch (err) {
        expect(err).toBeInstanceOf(DomainError);
        expect((err as DomainError).detail.field).toBe('scope');
        expect((err as DomainError).code).toBe('INVALID_SCOPE');
      }
    },
  );
});
