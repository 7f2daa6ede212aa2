import { Metadata, status } from '@grpc/grpc-js';
import { classifyPgError, DomainError, DomainErrorKind, InfrastructureError } from '../errors';

/** The one place where domain error kinds become gRPC status codes. Exhaustive: no default branch. */
export function statusForKind(kind: DomainErrorKind): status {
  switch (kind) {
    case 'invalid_argument':
      return status.INVALID_ARGUMENT;
    case 'not_found':
      return status.NOT_FOUND;
    case 'already_exists':
      return status.ALREADY_EXISTS;
    case 'failed_precondition':
      return status.FAILED_PRECONDITION;
    case 'permission_denied':
      return status.PERMISSION_DENIED;
    case 'unauthenticated':
      return status.UNAUTHENTICATED;
    case 'resource_exhausted':
      return status.RESOURCE_EXHAUSTED;
    case 'aborted':
      return status.ABORTED;
  }
}

export function statusForInfrastructure(kind: InfrastructureError['kind']): status {
  switch (kind) {
    case 'unavailable':
      return status.UNAVAILABLE;
    case 'aborted':
      return status.ABORTED;
    case 'deadline_exceeded':
      return status.DEADLINE_EXCEEDED;
  }
}

export interface GrpcErrorShape {
  code: status;
  details: string;
  /** Error id of an INTERNAL failure; the full error is logged under it. */
  errorId?: string;
  domainCode?: string;
  field?: string;
  rule?: string;
  retryAfterSeconds?: number;
}

/** Maps anything a handler threw to a gRPC status. Unknown errors are INTERNAL with an error id. */
export function toGrpcError(err: unknown, newErrorId: () => string): GrpcErrorShape {
  if (err instanceof DomainError) {
    return {
      code: statusForKind(err.kind),
      details: err.message,
      domainCode: err.code,
      field: err.detail.field,
      rule: err.detail.rule,
      ...(err.detail.retryAfterSeconds !== undefined && { retryAfterSeconds: err.detail.retryAfterSeconds }),
    };
  }
  const infra = err instanceof InfrastructureError ? err : classifyPgError(err);
  if (infra) {
    return { code: statusForInfrastructure(infra.kind), details: infra.message };
  }
  const sqlState = dataExceptionState(err);
  if (sqlState) {
    // A backstop: the service let a value through that PostgreSQL refuses (a NUL byte, an
    // out-of-range number, an invalid date...). The caller's input caused it, so it is not INTERNAL;
    // the SQL text and value stay in the log, under the error id, never in the answer.
    const errorId = newErrorId();
    return {
      code: status.INVALID_ARGUMENT,
      details: `a request value was refused by the database (data exception ${sqlState}); error id ${errorId}`,
      domainCode: 'DATA_EXCEPTION',
      errorId,
    };
  }
  const errorId = newErrorId();
  return { code: status.INTERNAL, details: `internal error ${errorId}`, errorId };
}

/**
 * The SQLSTATE of a PostgreSQL data exception (class 22: invalid byte sequence 22021, numeric value
 * out of range 22003, invalid datetime 22007/22008, string too long 22001, ...), if `err` is one.
 */
export function dataExceptionState(err: unknown): string | undefined {
  if (!(err instanceof Error)) return undefined;
  const { code, severity } = err as { code?: unknown; severity?: unknown };
  if (typeof code !== 'string' || typeof severity !== 'string') return undefined; // not from pg
  return /^22[0-9A-Z]{3}$/.test(code) ? code : undefined;
}

/** The trailers every refused call carries: the domain code, field, rule and error id of the failure. */
/** Trailing metadata keys of an error: the service's own error code and the offending request field. */
export const ERROR_CODE_METADATA = 'citybase-error-code';
export const ERROR_FIELD_METADATA = 'citybase-error-field';
/** Seconds after which a RESOURCE_EXHAUSTED call may be tried again (as HTTP's Retry-After). */
export const RETRY_AFTER_METADATA = 'retry-after';

export function errorMetadata(mapped: GrpcErrorShape): Metadata {
  const metadata = new Metadata();
  // HTTP/2 header values are printable ASCII: a rule that quotes the caller's input (any Unicode,
  // control characters) must not turn the refusal into an UNKNOWN "illegal characters" failure.
  const set = (key: string, value: string) => metadata.set(key, value.replace(/[^\x20-\x7e]/g, '?'));
  if (mapped.domainCode) set(ERROR_CODE_METADATA, mapped.domainCode);
  if (mapped.field) set(ERROR_FIELD_METADATA, mapped.field);
  if (mapped.rule) set('citybase-error-rule', mapped.rule);
  if (mapped.errorId) set('citybase-error-id', mapped.errorId);
  if (mapped.retryAfterSeconds !== undefined)
    metadata.set(RETRY_AFTER_METADATA, String(mapped.retryAfterSeconds));
  return metadata;
}
