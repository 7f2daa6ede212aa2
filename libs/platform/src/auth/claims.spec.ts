import { status } from '@grpc/grpc-js';
import { DomainError } from '../errors';
import { toGrpcError } from '../grpc';
import { AuthError } from './auth-error';
import {
  assertScope,
  assertTenancy,
  CitybaseClaims,
  CITY_ADMIN_SCOPE,
  hasScope,
  inTenancy,
  parseClaims,
  tenancyFilter,
  TokenTenancy,
} from './claims';

const claims = (tenancy: TokenTenancy, scope = 'payment:write merchant:read'): CitybaseClaims => ({
  sub: 'client-1',
  scope,
  city: 'sz',
  tenancy,
  exp: 2000,
  iat: 1000,
  jti: 'j',
});

describe('parseClaims', () => {
  const valid = {
    sub: 'client-1',
    scope: 'payment:write',
    city: 'sz',
    tenancy: { operators: ['op-1'], projects: [] },
    exp: 2000,
    iat: 1000,
    jti: 'j',
    iss: 'identity',
    aud: ['citybase'],
    extra: 'ignored',
  };

  it('keeps the Citybase claims of a well-formed payload', () => {
    const { extra: _ignored, ...citybaseClaims } = valid;
    expect(parseClaims(valid)).toEqual(citybaseClaims);
  });

  it.each([
    ['sub missing', { sub: undefined }],
    ['sub empty', { sub: '' }],
    ['scope not a string', { scope: ['payment:write'] }],
    ['scope with a quote', { scope: 'payment:"write' }],
    ['city missing', { city: undefined }],
    ['tenancy missing', { tenancy: undefined }],
    ['tenancy an array', { tenancy: ['op-1'] }],
    ['tenancy.operators not strings', { tenancy: { operators: [1] } }],
    ['tenancy.projects a string', { tenancy: { projects: 'p-1' } }],
    ['iat missing', { iat: undefined }],
    ['jti missing', { jti: undefined }],
    ['aud a number', { aud: 3 }],
  ])('refuses a payload with %s (UNAUTHENTICATED)', (_name, patch) => {
    const err: unknown = (() => {
      try {
        parseClaims({ ...valid, ...patch });
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect(err).toBeInstanceOf(AuthError);
    expect(err).toMatchObject({ code: 'TOKEN_CLAIMS_INVALID' });
  });
});

describe('scopes', () => {
  it('match whole space-separated tokens only', () => {
    const c = claims({}, 'payment:write  merchant:read');
    expect(hasScope(c, 'payment:write')).toBe(true);
    expect(hasScope(c, 'merchant:read')).toBe(true);
    expect(hasScope(c, 'payment')).toBe(false);
    expect(hasScope(c, 'payment:write merchant:read')).toBe(false);
    expect(hasScope(claims({}, 'payment:write-all'), 'payment:write')).toBe(false);
    expect(hasScope(claims({}, 'payment:*'), 'payment:write')).toBe(false);
    expect(hasScope(claims({}, ''), '')).toBe(false);
  });

  it('city:admin does not imply other scopes', () => {
    expect(hasScope(claims({}, CITY_ADMIN_SCOPE), 'payment:write')).toBe(false);
  });

  it('assertScope refuses with PERMISSION_DENIED SCOPE_MISSING naming the scope', () => {
    expect(() => assertScope(claims({}), 'payment:write')).not.toThrow();
    let err: unknown;
    try {
      assertScope(claims({}), 'refund:write');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(DomainError);
    expect(err).toMatchObject({ kind: 'permission_denied', code: 'SCOPE_MISSING' });
    expect((err as Error).message).toContain('refund:write');
    expect(toGrpcError(err, () => 'x').code).toBe(status.PERMISSION_DENIED);
  });
});

describe('tenancy', () => {
  const operatorBound = claims({ operators: ['op-1'] });
  const projectBound = claims({ projects: ['p-1', 'p-2'] });

  it('an operator-bound client may act on its operator and every project of it', () => {
    expect(inTenancy(operatorBound, { operatorId: 'op-1' })).toBe(true);
    expect(inTenancy(operatorBound, { operatorId: 'op-1', projectId: 'p-1' })).toBe(true);
    expect(inTenancy(operatorBound, { operatorId: 'op-1', projectId: 'p-created-later' })).toBe(true);
  });

  it('an operator-bound client may not act on a foreign operator or its projects', () => {
    expect(inTenancy(operatorBound, { operatorId: 'op-2' })).toBe(false);
    expect(inTenancy(operatorBound, { operatorId: 'op-2', projectId: 'p-9' })).toBe(false);
  });

  it('a project-bound client may act on its projects only', () => {
    expect(inTenancy(projectBound, { operatorId: 'op-1', projectId: 'p-1' })).toBe(true);
    expect(inTenancy(projectBound, { operatorId: 'op-1', projectId: 'p-2' })).toBe(true);
    expect(inTenancy(projectBound, { operatorId: 'op-1', projectId: 'p-3' })).toBe(false); // sibling project
    expect(inTenancy(projectBound, { operatorId: 'op-1' })).toBe(false); // the operator's own resources
    expect(inTenancy(projectBound, { operatorId: 'op-2', projectId: 'p-9' })).toBe(false); // foreign
  });

  it('an empty subtree is "everything" for a city admin and "nothing" for anyone else', () => {
    const admin = claims({}, `${CITY_ADMIN_SCOPE} payment:write`);
    expect(inTenancy(admin, { operatorId: 'op-7', projectId: 'p-7' })).toBe(true);
    expect(inTenancy(claims({ operators: [], projects: [] }, CITY_ADMIN_SCOPE), { operatorId: 'op-7' })).toBe(
      true,
    );
    expect(inTenancy(claims({}), { operatorId: 'op-1' })).toBe(false);
    expect(inTenancy(claims({ operators: [], projects: [] }), { operatorId: 'op-1', projectId: 'p-1' })).toBe(
      false,
    );
  });

  it('a city admin bound to operators is restricted to them like anyone else', () => {
    const admin = claims({ operators: ['op-1'] }, CITY_ADMIN_SCOPE);
    expect(inTenancy(admin, { operatorId: 'op-1' })).toBe(true);
    expect(inTenancy(admin, { operatorId: 'op-2' })).toBe(false);
  });

  it('assertTenancy refuses with PERMISSION_DENIED TENANCY_FORBIDDEN and no ids of the foreign resource', () => {
    expect(() => assertTenancy(operatorBound, { operatorId: 'op-1', projectId: 'p-1' })).not.toThrow();
    let err: unknown;
    try {
      assertTenancy(projectBound, { operatorId: 'op-secret-owner', projectId: 'p-secret' });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(DomainError);
    expect(err).toMatchObject({ kind: 'permission_denied', code: 'TENANCY_FORBIDDEN' });
    const mapped = toGrpcError(err, () => 'x');
    expect(mapped.code).toBe(status.PERMISSION_DENIED);
    expect(JSON.stringify(mapped)).not.toMatch(/op-secret-owner|p-secret/);
  });

  it('tenancyFilter gives list queries the same rule', () => {
    expect(tenancyFilter(claims({}, CITY_ADMIN_SCOPE))).toEqual({ all: true });
    expect(tenancyFilter(claims({}))).toEqual({ all: false, operatorIds: [], projectIds: [] });
    expect(tenancyFilter(operatorBound)).toEqual({ all: false, operatorIds: ['op-1'], projectIds: [] });
    expect(tenancyFilter(claims({ projects: ['p-1'] }, CITY_ADMIN_SCOPE))).toEqual({
      all: false,
      operatorIds: [],
      projectIds: ['p-1'],
    });
  });
});
