import { DomainError } from '../errors';
import { AuthError } from './auth-error';
import type { JwtPayload } from './jwt';

/**
 * The scope that makes a client a city administrator. It changes only how the tenancy subtree is
 * read (see TokenTenancy); it does NOT imply any other scope: an admin client still needs e.g.
 * `payment:write` to call a payment RPC.
 */
export const CITY_ADMIN_SCOPE = 'city:admin';

/** One scope token (RFC 6749 §3.3): printable ASCII without space, `"` or `\`. */
export const SCOPE_TOKEN = /^[\x21\x23-\x5B\x5D-\x7E]+$/;

/**
 * The part of the tenancy tree (city > operators > projects) a client may act in.
 *
 * - A client bound to operator O (`operators` contains O) may act on O itself and on every project
 *   of O, including projects created after its token was issued.
 * - A client bound to projects P1, P2 (`projects` contains them) may act on those projects only: not
 *   on their operator's own resources, nor on the operator's other projects.
 * - Both lists may be given; a resource is allowed if either grants it.
 * - Both lists empty or absent: for a client with the CITY_ADMIN_SCOPE scope this means "not
 *   restricted", every operator and project of the token's city. For any other client it means
 *   "nothing": an empty subtree never widens access by accident.
 */
export interface TokenTenancy {
  operators?: string[];
  projects?: string[];
}

/** What a Citybase access token says about its caller (issued by identity, verified by everyone). */
export interface CitybaseClaims {
  /** Client id of the API client. */
  sub: string;
  /** Space-separated scope tokens (RFC 8693 §4.2, RFC 6749 §3.3). */
  scope: string;
  /** The deployment (city) the token is valid in. */
  city: string;
  tenancy: TokenTenancy;
  exp: number;
  iat: number;
  /** Token id, for audit logs. */
  jti: string;
  iss?: string;
  aud?: string | string[];
}

/** The tenancy ids of a stored resource: read them from the row, never from the request. */
export interface TenancyRef {
  operatorId: string;
  projectId?: string;
}

/**
 * Checks that a verified payload has the shape of CitybaseClaims. A signed token of the wrong shape
 * is still refused (UNAUTHENTICATED TOKEN_CLAIMS_INVALID), so handlers can trust the types.
 */
export function parseClaims(payload: JwtPayload): CitybaseClaims {
  const { sub, scope, city, tenancy, exp, iat, jti, iss, aud } = payload;
  const bad = (claim: string): never => {
    throw new AuthError('TOKEN_CLAIMS_INVALID', `token claim ${claim} is missing or malformed`);
  };
  if (!isNonEmptyString(sub)) bad('sub');
  if (typeof scope !== 'string' || !scope.split(' ').every((s) => s === '' || SCOPE_TOKEN.test(s)))
    bad('scope');
  if (!isNonEmptyString(city)) bad('city');
  if (typeof exp !== 'number' || typeof iat !== 'number') bad('exp/iat');
  if (!isNonEmptyString(jti)) bad('jti');
  if (iss !== undefined && typeof iss !== 'string') bad('iss');
  if (aud !== undefined && typeof aud !== 'string' && !isStringArray(aud)) bad('aud');
  if (typeof tenancy !== 'object' || tenancy === null || Array.isArray(tenancy)) bad('tenancy');
  const { operators, projects } = tenancy as Record<string, unknown>;
  if (operators !== undefined && !isStringArray(operators)) bad('tenancy.operators');
  if (projects !== undefined && !isStringArray(projects)) bad('tenancy.projects');
  return {
    sub: sub as string,
    scope: scope as string,
    city: city as string,
    tenancy: {
      ...(operators !== undefined && { operators: operators as string[] }),
      ...(projects !== undefined && { projects: projects as string[] }),
    },
    exp: exp as number,
    iat: iat as number,
    jti: jti as string,
    ...(iss !== undefined && { iss: iss as string }),
    ...(aud !== undefined && { aud: aud as string | string[] }),
  };
}

/** The scope tokens of a claims set; exact matches only, no wildcards or implied scopes. */
export function scopesOf(claims: Pick<CitybaseClaims, 'scope'>): string[] {
  return claims.scope.split(' ').filter((s) => s !== '');
}

export function hasScope(claims: Pick<CitybaseClaims, 'scope'>, scope: string): boolean {
  return scopesOf(claims).includes(scope);
}

/** Throws PERMISSION_DENIED SCOPE_MISSING naming the scope the caller lacks. */
export function assertScope(claims: Pick<CitybaseClaims, 'scope'>, scope: string): void {
  if (!hasScope(claims, scope)) {
    throw new DomainError('permission_denied', 'SCOPE_MISSING', `the token lacks scope ${scope}`, {
      rule: `requires scope ${scope}`,
    });
  }
}

/** True if the resource lies inside the client's tenancy subtree (rules: see TokenTenancy). */
export function inTenancy(claims: Pick<CitybaseClaims, 'scope' | 'tenancy'>, resource: TenancyRef): boolean {
  const operators = claims.tenancy.operators ?? [];
  const projects = claims.tenancy.projects ?? [];
  if (operators.length === 0 && projects.length === 0) return hasScope(claims, CITY_ADMIN_SCOPE);
  if (operators.includes(resource.operatorId)) return true;
  return resource.projectId !== undefined && projects.includes(resource.projectId);
}

/**
 * Throws PERMISSION_DENIED TENANCY_FORBIDDEN when the resource lies outside the client's subtree.
 * The message names neither the resource's operator nor its project: which tenant owns a resource
 * is itself information a foreign caller must not get.
 */
export function assertTenancy(claims: Pick<CitybaseClaims, 'scope' | 'tenancy'>, resource: TenancyRef): void {
  if (!inTenancy(claims, resource)) {
    throw new DomainError(
      'permission_denied',
      'TENANCY_FORBIDDEN',
      'the resource lies outside the tenancy of this client',
    );
  }
}

/**
 * For list queries: `{ all: true }` for an unrestricted city admin, otherwise the operator and
 * project ids to filter rows by (a row matches if its operator is in `operatorIds` or its project
 * is in `projectIds`; both empty means no rows).
 */
export function tenancyFilter(
  claims: Pick<CitybaseClaims, 'scope' | 'tenancy'>,
): { all: true } | { all: false; operatorIds: string[]; projectIds: string[] } {
  const operatorIds = claims.tenancy.operators ?? [];
  const projectIds = claims.tenancy.projects ?? [];
  if (operatorIds.length === 0 && projectIds.length === 0 && hasScope(claims, CITY_ADMIN_SCOPE)) {
    return { all: true };
  }
  return { all: false, operatorIds: [...operatorIds], projectIds: [...projectIds] };
}

function isNonEmptyString(v: unknown): v is string {
  return typeof v === 'string' && v !== '';
}

function isStringArray(v: unknown): v is string[] {
  return Array.isArray(v) && v.every(isNonEmptyString);
}
