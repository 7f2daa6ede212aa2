import { Metadata, status } from '@grpc/grpc-js';
import { DomainError, DomainErrorKind, InfrastructureError } from '../errors';

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
    };
  }
  if (err instanceof InfrastructureError) {
    return { code: statusForInfrastructure(err.kind), details: err.message };
  }
  const errorId = newErrorId();
  return { code: status.INTERNAL, details: `internal error ${errorId}`, errorId };
}

/** The trailers every refused call carries: the domain code, field, rule and error id of the failure. */
/** Trailing metadata keys of an error: the service's own error code and the offending request field. */
export const ERROR_CODE_METADATA = 'citybase-error-code';
export const ERROR_FIELD_METADATA = 'citybase-error-field';

export function errorMetadata(mapped: GrpcErrorShape): Metadata {
  const metadata = new Metadata();
  if (mapped.domainCode) metadata.set(ERROR_CODE_METADATA, mapped.domainCode);
  if (mapped.field) metadata.set(ERROR_FIELD_METADATA, mapped.field);
  if (mapped.rule) metadata.set('citybase-error-rule', mapped.rule);
  if (mapped.errorId) metadata.set('citybase-error-id', mapped.errorId);
  return metadata;
}
