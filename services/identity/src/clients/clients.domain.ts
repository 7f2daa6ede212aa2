import {
  CITY_ADMIN_SCOPE,
  type CitybaseClaims,
  DomainError,
  hasScope,
  keyPart,
  pageCursor,
  parsePage,
  requestId,
  requiredString,
  requiredUuid,
  SCOPE_TOKEN,
  tenancyFilter,
} from '@citybase/platform';
import type {
  CreateClientRequest,
  ListClientsRequest,
  RevokeClientRequest,
  RotateClientSecretRequest,
} from '@citybase/contracts/citybase/identity/v1/clients';
import { CLIENT_ID_PATTERN } from './client-secret';

export const MAX_CLIENT_SCOPES = 50;
export const MAX_SCOPE_LENGTH = 100;
export const MAX_TENANCY_IDS = 100;
export const MAX_CLIENT_NAME = 200;
export const MAX_REVOKE_REASON = 500;
export const CLIENT_PAGE_LIMITS = { defaultSize: 50, maxSize: 200 };

export interface ClientTenancyIds {
  operatorIds: string[];
  projectIds: string[];
}

export interface CreateClientCommand extends ClientTenancyIds {
  requestId: string;
  name: string;
  scopes: string[];
}

export interface RotateClientSecretCommand {
  requestId: string;
  clientId: string;
}

export interface RevokeClientCommand {
  requestId: string;
  clientId: string;
  reason: string;
}

export interface ListClientsQuery {
  pageSize: number;
  /** Client id of the last row of the previous page. */
  after: string | undefined;
}

/** A client id as we issue them: cb_ + 24 base32 characters. */
export function requiredClientId(field: string, value: string | undefined): string {
  return requiredString(field, value, {
    max: 27,
    pattern: CLIENT_ID_PATTERN,
    patternRule: 'must be a client id (cb_ followed by 24 characters a-z, 2-7)',
  });
}

/** One scope token: RFC 6749 §3.3 characters, at most MAX_SCOPE_LENGTH. */
export function requiredScopeToken(field: string, value: string | undefined): string {
  if (value === undefined || value === '') throw DomainError.invalid(field, 'is required');
  if (value.length > MAX_SCOPE_LENGTH)
    throw DomainError.invalid(field, `must be at most ${MAX_SCOPE_LENGTH} characters`);
  if (!SCOPE_TOKEN.test(value)) {
    throw DomainError.invalid(field, 'must be a scope token (printable ASCII without spaces, " or \\)');
  }
  return value;
}

/** 1-50 distinct scope tokens. */
export function requiredScopes(field: string, values: readonly string[] | undefined): string[] {
  const list = values ?? [];
  if (list.length === 0) throw DomainError.invalid(field, 'must list at least one scope');
  if (list.length > MAX_CLIENT_SCOPES)
    throw DomainError.invalid(field, `must list at most ${MAX_CLIENT_SCOPES} scopes`);
  const seen = new Set<string>();
  return list.map((s, i) => {
    const scope = requiredScopeToken(`${field}[${i}]`, s);
    if (seen.has(scope)) throw DomainError.invalid(`${field}[${i}]`, `repeats scope ${scope}`);
    seen.add(scope);
    return scope;
  });
}

function distinctUuids(field: string, values: readonly string[] | undefined): string[] {
  const list = values ?? [];
  if (list.length > MAX_TENANCY_IDS)
    throw DomainError.invalid(field, `must list at most ${MAX_TENANCY_IDS} ids`);
  const seen = new Set<string>();
  return list.map((v, i) => {
    const id = requiredUuid(`${field}[${i}]`, v);
    if (seen.has(id)) throw DomainError.invalid(`${field}[${i}]`, 'repeats an id');
    seen.add(id);
    return id;
  });
}

export function toCreateClientCommand(req: CreateClientRequest): CreateClientCommand {
  const cmd: CreateClientCommand = {
    requestId: requestId(req.requestId),
    name: requiredString('name', req.name, { max: MAX_CLIENT_NAME }),
    scopes: requiredScopes('scopes', req.scopes),
    operatorIds: distinctUuids('tenancy.operator_ids', req.tenancy?.operatorIds),
    projectIds: distinctUuids('tenancy.project_ids', req.tenancy?.projectIds),
  };
  if (cmd.operatorIds.length === 0 && cmd.projectIds.length === 0 && !cmd.scopes.includes(CITY_ADMIN_SCOPE)) {
    throw DomainError.invalid(
      'tenancy',
      `must name at least one operator or project (an empty tenancy is the whole city: only with scope ${CITY_ADMIN_SCOPE})`,
    );
  }
  return cmd;
}

export function toRotateClientSecretCommand(req: RotateClientSecretRequest): RotateClientSecretCommand {
  return { requestId: requestId(req.requestId), clientId: requiredClientId('client_id', req.clientId) };
}

export function toRevokeClientCommand(req: RevokeClientRequest): RevokeClientCommand {
  return {
    requestId: requestId(req.requestId),
    clientId: requiredClientId('client_id', req.clientId),
    reason: requiredString('reason', req.reason, { max: MAX_REVOKE_REASON }),
  };
}

/** Page tokens of ListClients: the client id of the previous page's last row (the store finds its created_at). */
export const CLIENTS_PAGE = pageCursor('identity.clients', keyPart.text(CLIENT_ID_PATTERN, 27));

export function toListClientsQuery(req: ListClientsRequest): ListClientsQuery {
  const { size, after } = parsePage(req.page, CLIENTS_PAGE, CLIENT_PAGE_LIMITS);
  return { pageSize: size, after: after?.[0] };
}

/** Throws PERMISSION_DENIED naming the first requested scope the caller does not hold itself. */
export function assertScopesHeld(claims: Pick<CitybaseClaims, 'scope'>, scopes: readonly string[]): void {
  scopes.forEach((scope, i) => {
    if (!hasScope(claims, scope)) {
      throw new DomainError(
        'permission_denied',
        'SCOPE_ESCALATION',
        `scopes[${i}]: the caller does not hold scope ${scope} and cannot grant it`,
        { field: `scopes[${i}]`, rule: 'each scope must be held by the caller' },
      );
    }
  });
}

/**
 * Throws PERMISSION_DENIED unless the requested tenancy lies inside the caller's: every operator is
 * one of the caller's operators, every project is one of the caller's projects or belongs to one of
 * the caller's operators, and an empty tenancy (the whole city) only for an unrestricted city admin.
 * `projectOperators` maps each requested project to its operator (read from the database).
 */
export function assertTenancyInside(
  claims: Pick<CitybaseClaims, 'scope' | 'tenancy'>,
  requested: ClientTenancyIds,
  projectOperators: ReadonlyMap<string, string>,
): void {
  const filter = tenancyFilter(claims);
  if (filter.all) return;
  const deny = (field: string) =>
    new DomainError(
      'permission_denied',
      'TENANCY_ESCALATION',
      `${field}: lies outside the caller's tenancy`,
      {
        field,
        rule: "must lie inside the caller's tenancy",
      },
    );
  if (requested.operatorIds.length === 0 && requested.projectIds.length === 0) throw deny('tenancy');
  requested.operatorIds.forEach((id, i) => {
    if (!filter.operatorIds.includes(id)) throw deny(`tenancy.operator_ids[${i}]`);
  });
  requested.projectIds.forEach((id, i) => {
    const operator = projectOperators.get(id);
    const inside =
      filter.projectIds.includes(id) || (operator !== undefined && filter.operatorIds.includes(operator));
    if (!inside) throw deny(`tenancy.project_ids[${i}]`);
  });
}
