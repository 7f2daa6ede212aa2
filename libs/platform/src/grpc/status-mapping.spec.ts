import { status } from '@grpc/grpc-js';
import { classifyPgError, DomainError, DomainErrorKind, InfrastructureError } from '../errors';
import { statusForKind, toGrpcError } from './status-mapping';

describe('domain error to gRPC status mapping', () => {
  const expected: Record<DomainErrorKind, status> = {
    invalid_argument: status.INVALID_ARGUMENT,
    not_found: status.NOT_FOUND,
    already_exists: status.ALREADY_EXISTS,
    failed_precondition: status.FAILED_PRECONDITION,
    permission_denied: status.PERMISSION_DENIED,
    unauthenticated: status.UNAUTHENTICATED,
    resource_exhausted: status.RESOURCE_EXHAUSTED,
    aborted: status.ABORTED,
  };

  it.each(Object.entries(expected))('maps %s to its own status', (kind, code) => {
    expect(statusForKind(kind as DomainErrorKind)).toBe(code);
  });

  it('never maps a domain error to INTERNAL, and no two kinds share a status', () => {
    const codes = Object.keys(expected).map((k) => statusForKind(k as DomainErrorKind));
    expect(codes).not.toContain(status.INTERNAL);
    expect(new Set(codes).size).toBe(codes.length);
  });

  it('keeps the field and rule for the caller', () => {
    const mapped = toGrpcError(
      DomainError.invalid('amount.amount_minor', 'must be positive'),
      () => 'unused',
    );
    expect(mapped).toEqual({
      code: status.INVALID_ARGUMENT,
      details: 'amount.amount_minor: must be positive',
      domainCode: 'INVALID_ARGUMENT',
      field: 'amount.amount_minor',
      rule: 'must be positive',
    });
  });

  it('reports infrastructure failures as retryable, never as a business outcome', () => {
    const serialization = classifyPgError(Object.assign(new Error('could not serialize'), { code: '40001' }));
    expect(serialization).toBeInstanceOf(InfrastructureError);
    expect(toGrpcError(serialization, () => 'x').code).toBe(status.ABORTED);
    const down = classifyPgError(Object.assign(new Error('conn'), { code: '08006' }));
    expect(toGrpcError(down, () => 'x').code).toBe(status.UNAVAILABLE);
    expect(classifyPgError(Object.assign(new Error('dup'), { code: '23505' }))).toBeUndefined();
  });

  it('turns anything else into INTERNAL with an error id and no detail of the bug', () => {
    const mapped = toGrpcError(
      new TypeError('cannot read x of undefined at secret/path.ts'),
      () => 'err-123',
    );
    expect(mapped).toEqual({ code: status.INTERNAL, details: 'internal error err-123', errorId: 'err-123' });
  });
});
