import type { Metadata } from '@grpc/grpc-js';
import { CanActivate, ExecutionContext, Inject, Injectable, Optional, SetMetadata } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { DomainError } from '../errors';
import { AuthError } from './auth-error';
import { assertScope, CitybaseClaims, parseClaims, SCOPE_TOKEN } from './claims';
import { KeyResolver, verifyJwt, VerifyOptions } from './jwt';

const REQUIRED_SCOPE_KEY = 'citybase:auth:required-scope';
const PUBLIC_RPC_KEY = 'citybase:auth:public-rpc';

/** DI token of the KeyResolver (a JwksCache) the guard verifies with. */
export const AUTH_KEY_RESOLVER = Symbol('AUTH_KEY_RESOLVER');
/** DI token of the guard's GrpcAuthOptions. */
export const AUTH_GUARD_OPTIONS = Symbol('AUTH_GUARD_OPTIONS');

export interface GrpcAuthOptions extends Omit<VerifyOptions, 'now'> {
  /** If set, the token's `city` claim must equal it (the deployment's CITY_ID). */
  city?: string;
  /** Clock, injected for tests. */
  now?: () => Date;
}

/**
 * Declares the scope a gRPC handler requires. A method decorator only: each RPC states its scope
 * where it is written, and no class-level default can silently cover an RPC added later.
 */
export function RequireScope(scope: string): MethodDecorator {
  if (!SCOPE_TOKEN.test(scope)) throw new Error(`@RequireScope('${scope}'): not a single scope token`);
  return SetMetadata(REQUIRED_SCOPE_KEY, scope);
}

/** Declares a gRPC handler open to callers without a token. Rare on purpose: say why where it is used. */
export function PublicRpc(): MethodDecorator {
  return SetMetadata(PUBLIC_RPC_KEY, true);
}

/**
 * Verified claims by call. A WeakMap keyed by the call's Metadata object rather than a
 * `metadata.set('x-citybase-claims', ...)`: a metadata key is something a client can send too (so
 * it could be forged if the guard ever skipped a call), it only holds strings, and it could be
 * copied into outgoing metadata by mistake. The WeakMap is unreachable from the wire, keeps the
 * typed object, and its entry is collected together with the call.
 */
const verifiedClaims = new WeakMap<object, CitybaseClaims>();

/** The claims the guard verified for this call. Throws UNAUTHENTICATED if there are none (e.g. a @PublicRpc). */
export function claimsOf(metadata: Metadata): CitybaseClaims {
  const claims = verifiedClaims.get(metadata);
  if (!claims) throw new AuthError('TOKEN_MISSING', 'this call carries no verified token');
  return claims;
}

/** Like claimsOf, but undefined when the call carries no verified token. */
export function findClaims(metadata: Metadata): CitybaseClaims | undefined {
  return verifiedClaims.get(metadata);
}

/**
 * The gRPC transport's authorization gate, for every service. For each RPC it:
 * 1. refuses a handler with neither @RequireScope nor @PublicRpc (PERMISSION_DENIED): guarded by
 *    default, so a forgotten declaration fails closed and the authorization matrix test sees it;
 * 2. reads `authorization: Bearer <jwt>` from the call metadata and verifies it locally against the
 *    JWKS (UNAUTHENTICATED on any failure, with an AuthError code);
 * 3. checks the declared scope (PERMISSION_DENIED SCOPE_MISSING);
 * 4. records the claims for claimsOf(metadata), which handlers use for tenancy checks.
 * It throws DomainErrors, which GrpcErrorFilter maps. HTTP (ops endpoints) passes untouched; the
 * gRPC health and reflection services are not Nest handlers and never reach it.
 */
@Injectable()
export class GrpcAuthGuard implements CanActivate {
  private readonly options: GrpcAuthOptions;

  constructor(
    private readonly reflector: Reflector,
    @Inject(AUTH_KEY_RESOLVER) private readonly keys: KeyResolver,
    @Optional() @Inject(AUTH_GUARD_OPTIONS) options?: GrpcAuthOptions,
  ) {
    this.options = options ?? {};
  }

  async canActivate(context: ExecutionContext): Promise<boolean> {
    if (context.getType() !== 'rpc') return true;
    const handler = context.getHandler();
    const scope = this.reflector.get<string | undefined>(REQUIRED_SCOPE_KEY, handler);
    const isPublic = this.reflector.get<boolean | undefined>(PUBLIC_RPC_KEY, handler) === true;
    const rpc = `${context.getClass().name}.${handler.name}`;
    if (isPublic && scope !== undefined) {
      throw new DomainError(
        'permission_denied',
        'RPC_DECLARATION_CONFLICT',
        `RPC ${rpc} declares both @PublicRpc and @RequireScope: refused`,
      );
    }
    if (isPublic) return true;
    if (scope === undefined) {
      throw new DomainError(
        'permission_denied',
        'RPC_SCOPE_UNDECLARED',
        `RPC ${rpc} declares no scope (@RequireScope or @PublicRpc): refused`,
      );
    }

    const metadata = context.switchToRpc().getContext<Metadata>();
    const token = bearerToken(metadata);
    const { now, city, ...verify } = this.options;
    const claims = parseClaims(await verifyJwt(token, this.keys, { ...verify, now: now?.() }));
    if (city !== undefined && claims.city !== city) {
      throw new AuthError('TOKEN_CITY_INVALID', 'token is for another city');
    }
    assertScope(claims, scope);
    verifiedClaims.set(metadata, claims);
    return true;
  }
}

/** The token of the single `authorization: Bearer <token>` metadata entry (scheme case-insensitive, RFC 7235). */
function bearerToken(metadata: Metadata | undefined): string {
  const values = typeof metadata?.get === 'function' ? metadata.get('authorization') : [];
  if (values.length === 0) {
    throw new AuthError('TOKEN_MISSING', 'no authorization metadata (expected "Bearer <token>")');
  }
  if (values.length > 1) throw new AuthError('TOKEN_MALFORMED', 'more than one authorization value');
  const match = typeof values[0] === 'string' ? /^Bearer +([^\s]+) *$/i.exec(values[0]) : null;
  if (!match?.[1]) throw new AuthError('TOKEN_MALFORMED', 'authorization is not "Bearer <token>"');
  return match[1];
}
