import { randomUUID } from 'node:crypto';
import type { Metadata, Server, ServiceDefinition, UntypedHandleCall } from '@grpc/grpc-js';
import { status } from '@grpc/grpc-js';
import type { Logger } from 'pino';
import { Counter, Registry } from 'prom-client';
import type { RpcAuthDeclaration } from '@citybase/contracts/rpc-auth';
import { DomainError } from '../errors';
import { errorMetadata, toGrpcError } from '../grpc/status-mapping';
import { AuthError } from './auth-error';
import { assertScope, CitybaseClaims, parseClaims } from './claims';
import { KeyResolver, verifyJwt } from './jwt';
import type { RevocationCheck } from './revocations';
import type { UnaryImpl, ServerStreamImpl } from '../grpc/handler-types';

export interface RpcAuthenticatorOptions {
  /** What every RPC declares (rpcAuthDeclarations() of the contracts' descriptor set), by gRPC path. */
  declarations: ReadonlyMap<string, RpcAuthDeclaration>;
  /** Public keys by kid: a JwksCache of identity's JWKS in every service. */
  keys: KeyResolver;
  /** The token's `city` claim must equal it (the deployment's CITY_ID). */
  city: string;
  /** If set, the token's `iss` must equal it. */
  issuer?: string;
  /** Revoked clients; checked on every call after the signature. */
  revocations?: RevocationCheck;
  /** Clock, injected for tests. */
  now?: () => Date;
}

/**
 * Verified claims by call. Keyed by the call's Metadata object, which grpc-js hands to the wrapper
 * below and Nest hands to the handler as its second argument. A WeakMap rather than a metadata entry:
 * a metadata key is something a client can send too, it only holds strings and it could be copied
 * into outgoing metadata by mistake. The entry is collected together with the call.
 */
const verifiedClaims = new WeakMap<object, CitybaseClaims>();

/** The claims verified for this call. Throws UNAUTHENTICATED if there are none (a public RPC). */
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
 * Authorization of every gRPC call of a Citybase service, from the proto contract: each RPC declares
 * `(citybase.common.v1.required_scope)` or `(citybase.common.v1.public_rpc)` in its .proto file.
 * For a call it:
 * 1. refuses an RPC that is not in the descriptor set or declares neither option (PERMISSION_DENIED):
 *    guarded by default, so a forgotten declaration fails closed;
 * 2. lets a public RPC through without a token;
 * 3. reads `authorization: Bearer <jwt>` and verifies it locally (ES256, kid from the JWKS, exp,
 *    issuer, city): UNAUTHENTICATED with an AuthError code on any failure;
 * 4. refuses a token of a revoked client (UNAUTHENTICATED TOKEN_REVOKED);
 * 5. checks the declared scope (PERMISSION_DENIED SCOPE_MISSING);
 * and returns the claims, which handlers read with claimsOf(metadata) for their tenancy checks.
 */
export class RpcAuthenticator {
  constructor(private readonly options: RpcAuthenticatorOptions) {}

  async authenticate(path: string, metadata: Metadata | undefined): Promise<CitybaseClaims | undefined> {
    const declaration = this.options.declarations.get(path);
    if (!declaration) {
      throw new DomainError(
        'permission_denied',
        'RPC_UNDECLARED',
        `RPC ${path} is not in the contracts: refused`,
      );
    }
    const { requiredScope, publicRpc } = declaration;
    if (publicRpc && requiredScope !== undefined) {
      throw new DomainError(
        'permission_denied',
        'RPC_DECLARATION_CONFLICT',
        `RPC ${path} declares both public_rpc and required_scope: refused`,
      );
    }
    if (publicRpc) return undefined;
    if (requiredScope === undefined) {
      throw new DomainError(
        'permission_denied',
        'RPC_SCOPE_UNDECLARED',
        `RPC ${path} declares no scope (required_scope or public_rpc in its .proto): refused`,
      );
    }
    return this.verify(
      bearerToken(typeof metadata?.get === 'function' ? metadata.get('authorization') : []),
      requiredScope,
    );
  }

  /**
   * For the few HTTP endpoints that act (e.g. the dead-letter replay on the ops port): the same
   * checks for an `Authorization` header value and a scope the endpoint states.
   */
  async authenticateHttp(authorization: string | undefined, requiredScope: string): Promise<CitybaseClaims> {
    return this.verify(bearerToken(authorization === undefined ? [] : [authorization]), requiredScope);
  }

  private async verify(token: string, requiredScope: string): Promise<CitybaseClaims> {
    const { keys, issuer, now, city, revocations } = this.options;
    const claims = parseClaims(await verifyJwt(token, keys, { issuer, now: now?.() }));
    if (claims.city !== city) throw new AuthError('TOKEN_CITY_INVALID', 'token is for another city');
    if (revocations && (await revocations.isRevoked(claims.sub))) {
      throw new AuthError('TOKEN_REVOKED', 'the client of this token has been revoked');
    }
    assertScope(claims, requiredScope);
    return claims;
  }
}

/** The token of the single `authorization: Bearer <token>` metadata entry (scheme case-insensitive, RFC 7235). */
function bearerToken(values: readonly unknown[]): string {
  if (values.length === 0) {
    throw new AuthError('TOKEN_MISSING', 'no authorization metadata (expected "Bearer <token>")');
  }
  if (values.length > 1) throw new AuthError('TOKEN_MALFORMED', 'more than one authorization value');
  const match = typeof values[0] === 'string' ? /^Bearer +([^\s]+) *$/i.exec(values[0]) : null;
  if (!match?.[1]) throw new AuthError('TOKEN_MALFORMED', 'authorization is not "Bearer <token>"');
  return match[1];
}

export interface GuardServerOptions {
  authenticator: RpcAuthenticator;
  logger: Pick<Logger, 'info' | 'error'>;
  registry?: Registry;
}

/**
 * Makes every service later added to `server` authenticate each call before its handler runs. Called
 * once per server before the application's services are added (the gRPC health and reflection
 * services, added before it, stay open). Every method of the service definition gets a handler, also
 * one the application does not implement: such a call is authenticated first and then answered
 * UNIMPLEMENTED, so nothing of the contract is reachable without a token. Server-streaming methods
 * are authenticated the same way before their handler runs (a refusal ends the stream with the
 * status); client- and bidi-streaming methods are refused at startup.
 */
export function guardServer(server: Pick<Server, 'addService'>, opts: GuardServerOptions): void {
  const refused = opts.registry
    ? new Counter({
        name: 'grpc_auth_refused_total',
        help: 'gRPC calls refused by authentication or authorization, by RPC and reason',
        labelNames: ['rpc', 'code'],
        registers: [opts.registry],
      })
    : undefined;
  const addService = server.addService.bind(server);
  server.addService = (definition: ServiceDefinition, implementation: Record<string, UntypedHandleCall>) => {
    const guarded: Record<string, UntypedHandleCall> = {};
    for (const [key, method] of Object.entries(definition)) {
      if (method.requestStream) {
        throw new Error(
          `guardServer: ${method.path} streams requests; only unary and server-streaming RPCs are authenticated`,
        );
      }
      const impl = implementation[key] ?? implementation[method.originalName ?? ''];
      const path = method.path;
      const refuse = (err: unknown): { code: number; details: string; metadata: Metadata } => {
        const mapped = toGrpcError(err, randomUUID);
        if (mapped.errorId)
          opts.logger.error({ err, error_id: mapped.errorId, rpc: path }, 'authentication failed');
        else opts.logger.info({ rpc: path, code: mapped.domainCode, status: mapped.code }, 'rpc refused');
        refused?.inc({ rpc: path, code: mapped.domainCode ?? String(mapped.code) });
        return { code: mapped.code, details: mapped.details, metadata: errorMetadata(mapped) };
      };
      if (method.responseStream) {
        const streamImpl = impl as ServerStreamImpl | undefined;
        const handler: ServerStreamImpl = (call) => {
          opts.authenticator.authenticate(path, call.metadata).then(
            (claims) => {
              if (claims) verifiedClaims.set(call.metadata, claims);
              if (!streamImpl) {
                call.emit('error', { code: status.UNIMPLEMENTED, details: `${path} is not implemented yet` });
                return;
              }
              streamImpl(call);
            },
            (err: unknown) => void call.emit('error', refuse(err)),
          );
        };
        guarded[key] = handler as UntypedHandleCall;
        continue;
      }
      const unaryImpl = impl as UnaryImpl | undefined;
      const handler: UnaryImpl = (call, callback) => {
        opts.authenticator.authenticate(path, call.metadata).then(
          (claims) => {
            if (claims) verifiedClaims.set(call.metadata, claims);
            if (!unaryImpl) {
              callback({ code: status.UNIMPLEMENTED, details: `${path} is not implemented yet` });
              return;
            }
            unaryImpl(call, callback);
          },
          (err: unknown) => callback(refuse(err)),
        );
      };
      guarded[key] = handler as UntypedHandleCall;
    }
    addService(definition, guarded);
  };
}
