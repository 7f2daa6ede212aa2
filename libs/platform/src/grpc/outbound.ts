import * as grpc from '@grpc/grpc-js';
import { context, propagation } from '@opentelemetry/api';
import { TokenServiceService } from '@citybase/contracts/citybase/identity/v1/clients';
import { DomainError, DomainErrorKind, InfrastructureError } from '../errors';
import { ERROR_CODE_METADATA, ERROR_FIELD_METADATA } from './status-mapping';

/**
 * Service-to-service calls (docs/adr/0010-service-to-service-calls.md): a typed client of another
 * Citybase service's gRPC API that
 *   - authenticates as the calling service: identity's TokenService.IssueToken (OAuth2 client
 *     credentials with the service's own client id and secret from its configuration), the token
 *     cached until shortly before it expires, fetched once for concurrent callers, dropped and
 *     fetched again once when a call is refused UNAUTHENTICATED (a rotated key, a revoked token);
 *   - carries the active trace context (W3C traceparent) and a deadline on every call;
 *   - maps the callee's errors: its domain errors (INVALID_ARGUMENT, NOT_FOUND, FAILED_PRECONDITION,
 *     ...) become a DomainError with the callee's own code, field and message (`OutboundError`),
 *     transient failures (UNAVAILABLE, DEADLINE_EXCEEDED, ABORTED, RESOURCE_EXHAUSTED, INTERNAL,
 *     UNKNOWN) an InfrastructureError, which callers retry with the same request id.
 * Calls are made outside database transactions; what a call is for is persisted before it, so a
 * crash between the two is recovered by retrying it with the same request id.
 */

/** The calling service's credentials at identity. */
export interface ServiceCredentials {
  /** identity's gRPC address (host:port). */
  identityUrl: string;
  clientId: string;
  clientSecret: string;
  /** Space-separated subset of the client's scopes; empty: all of them. */
  scope?: string;
}

/** A source of bearer tokens: `token()` answers a valid one, `invalidate()` drops the cached one. */
export interface TokenSource {
  token(): Promise<string>;
  invalidate(token: string): void;
  close(): void;
}

/** Tokens are renewed this long before they expire (clock skew, calls in flight). */
const RENEW_BEFORE_MS = 30_000;
const DEFAULT_DEADLINE_MS = 5_000;

/**
 * Tokens of the service's own client from identity's IssueToken, cached until RENEW_BEFORE_MS
 * before they expire; concurrent callers share one request.
 */
export class ClientCredentialsTokens implements TokenSource {
  private cached: { token: string; renewAt: number } | undefined;
  private inflight: Promise<string> | undefined;
  private readonly client: grpc.Client;
  /** How many tokens were fetched (metrics and tests). */
  issued = 0;

  constructor(
    private readonly creds: ServiceCredentials,
    private readonly opts: { deadlineMs?: number; now?: () => number } = {},
  ) {
    const Ctor = grpc.makeGenericClientConstructor(TokenServiceService, 'TokenService');
    this.client = new Ctor(creds.identityUrl, grpc.credentials.createInsecure());
  }

  async token(): Promise<string> {
    const now = (this.opts.now ?? Date.now)();
    if (this.cached && now < this.cached.renewAt) return this.cached.token;
    this.inflight ??= this.fetch().finally(() => (this.inflight = undefined));
    return this.inflight;
  }

  invalidate(token: string): void {
    if (this.cached?.token === token) this.cached = undefined;
  }

  close(): void {
    this.client.close();
  }

  private async fetch(): Promise<string> {
    const started = (this.opts.now ?? Date.now)();
    const res = await unary<{ accessToken: string; expiresIn: number }>(
      this.client,
      'issueToken',
      {
        grantType: 'client_credentials',
        clientId: this.creds.clientId,
        clientSecret: this.creds.clientSecret,
        scope: this.creds.scope ?? '',
      },
      new grpc.Metadata(),
      this.opts.deadlineMs ?? DEFAULT_DEADLINE_MS,
      'identity',
    );
    this.issued += 1;
    const lifetimeMs = Math.max(0, res.expiresIn * 1000);
    this.cached = {
      token: res.accessToken,
      renewAt: started + Math.max(lifetimeMs - RENEW_BEFORE_MS, lifetimeMs / 2),
    };
    return res.accessToken;
  }
}

/** A callee's domain error, as the callee said it (kind, its own code, field, message). */
export class OutboundError extends DomainError {
  constructor(
    readonly service: string,
    readonly status: grpc.status,
    kind: DomainErrorKind,
    code: string,
    message: string,
    field?: string,
  ) {
    super(kind, code, message, field ? { field } : {});
    this.name = 'OutboundError';
  }
}

const DOMAIN_KINDS: Partial<Record<grpc.status, DomainErrorKind>> = {
  [grpc.status.INVALID_ARGUMENT]: 'invalid_argument',
  [grpc.status.NOT_FOUND]: 'not_found',
  [grpc.status.ALREADY_EXISTS]: 'already_exists',
  [grpc.status.FAILED_PRECONDITION]: 'failed_precondition',
  [grpc.status.PERMISSION_DENIED]: 'permission_denied',
  [grpc.status.UNAUTHENTICATED]: 'unauthenticated',
  [grpc.status.OUT_OF_RANGE]: 'invalid_argument',
};

/** What a failed call becomes: the callee's domain error, or a retryable infrastructure failure. */
export function mapOutboundError(service: string, err: grpc.ServiceError): Error {
  const kind = DOMAIN_KINDS[err.code];
  if (kind) {
    const code = err.metadata?.get(ERROR_CODE_METADATA)[0];
    const field = err.metadata?.get(ERROR_FIELD_METADATA)[0];
    return new OutboundError(
      service,
      err.code,
      kind,
      typeof code === 'string' ? code : grpc.status[err.code],
      `${service}: ${err.details}`,
      typeof field === 'string' ? field : undefined,
    );
  }
  const infra: InfrastructureError['kind'] =
    err.code === grpc.status.DEADLINE_EXCEEDED
      ? 'deadline_exceeded'
      : err.code === grpc.status.ABORTED
        ? 'aborted'
        : 'unavailable';
  return new InfrastructureError(infra, `${service}: ${grpc.status[err.code]} ${err.details}`, err);
}

function unary<R>(
  client: grpc.Client,
  method: string,
  req: unknown,
  metadata: grpc.Metadata,
  deadlineMs: number,
  service: string,
): Promise<R> {
  const fn = (client as unknown as Record<string, grpc.requestCallback<unknown> | undefined>)[
    method
  ] as unknown as (
    req: unknown,
    md: grpc.Metadata,
    opts: grpc.CallOptions,
    cb: (err: grpc.ServiceError | null, res: unknown) => void,
  ) => void;
  return new Promise<R>((resolve, reject) =>
    fn.call(client, req, metadata, { deadline: new Date(Date.now() + deadlineMs) }, (err, res) =>
      err ? reject(mapOutboundError(service, err)) : resolve(res as R),
    ),
  );
}

/** The unary methods of a ts-proto grpc-js service definition, promise-returning. */
export type OutboundClient<S> = {
  [K in keyof S]: S[K] extends grpc.MethodDefinition<infer Req, infer Res>
    ? (req: Req, opts?: { deadlineMs?: number }) => Promise<Res>
    : never;
} & { close(): void };

export interface OutboundOptions {
  /** Names the callee in errors and logs, e.g. "payment". */
  service: string;
  /** The callee's gRPC address (host:port), from the caller's configuration. */
  url: string;
  tokens: TokenSource;
  /** Deadline of a call unless it gives its own; default 5 s. */
  deadlineMs?: number;
}

/**
 * The caller's token. Not getting one is the caller's own failure (identity down, its credentials
 * wrong or revoked), never the callee refusing the request: it is an InfrastructureError (retry),
 * so a caller does not mistake it for the callee's answer.
 */
async function tokenFor(opts: OutboundOptions): Promise<string> {
  try {
    return await opts.tokens.token();
  } catch (err) {
    if (err instanceof InfrastructureError) throw err;
    const why = err instanceof Error ? err.message : String(err);
    throw new InfrastructureError('unavailable', `no token to call ${opts.service}: ${why}`, err);
  }
}

/**
 * A client of another Citybase service: every call with the calling service's bearer token, the
 * active trace context and a deadline; errors mapped (mapOutboundError). A call refused
 * UNAUTHENTICATED is retried once with a fresh token.
 */
export function outboundClient<S extends grpc.ServiceDefinition>(
  definition: S,
  opts: OutboundOptions,
): OutboundClient<S> {
  const Ctor = grpc.makeGenericClientConstructor(definition, opts.service);
  const raw = new Ctor(opts.url, grpc.credentials.createInsecure());
  const client: Record<string, unknown> = { close: () => raw.close() };
  for (const name of Object.keys(definition)) {
    const call = async (req: unknown, token: string, deadlineMs: number) => {
      const md = new grpc.Metadata();
      md.set('authorization', `Bearer ${token}`);
      propagation.inject(context.active(), md, { set: (carrier, key, value) => carrier.set(key, value) });
      return unary(raw, name, req, md, deadlineMs, opts.service);
    };
    client[name] = async (req: unknown, callOpts: { deadlineMs?: number } = {}) => {
      const deadlineMs = callOpts.deadlineMs ?? opts.deadlineMs ?? DEFAULT_DEADLINE_MS;
      const token = await tokenFor(opts);
      try {
        return await call(req, token, deadlineMs);
      } catch (err) {
        if (!(err instanceof OutboundError) || err.status !== grpc.status.UNAUTHENTICATED) throw err;
        opts.tokens.invalidate(token);
        return call(req, await tokenFor(opts), deadlineMs);
      }
    };
  }
  return client as OutboundClient<S>;
}
