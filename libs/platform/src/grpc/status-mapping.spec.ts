import { status } from '@grpc/grpc-js';
import { classifyPgError, DomainError, DomainErrorKind, InfrastructureError } from '../errors';
import { ERROR_FIELD_METADATA, errorMetadata, statusForKind, toGrpcError } from './status-mapping';

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

  it('answers UNAVAILABLE, not INTERNAL, when no database connection could be had', () => {
    // node-postgres' pool wait timeout and socket failures carry no SQLSTATE.
    for (const raw of [
      new Error('timeout exceeded when trying to connect'),
      Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' }),
      new Error('Connection terminated unexpectedly'),
    ]) {
      expect(toGrpcError(raw, () => 'x').code).toBe(status.UNAVAILABLE);
    }
    expect(toGrpcError(new Error('something else broke'), () => 'e1')).toEqual({
      code: status.INTERNAL,
      details: 'internal error e1',
      errorId: 'e1',
    });
  });

  it('maps a PostgreSQL data exception (class 22) to INVALID_ARGUMENT without its SQL text', () => {
    const pgError = (code: string) =>
      Object.assign(new Error('invalid byte sequence for encoding "UTF8": 0x00 in INSERT INTO operators'), {
        code,
        severity: 'ERROR',
      });
    for (const code of ['22021', '22P02', '22003', '22001', '22007']) {
      const mapped = toGrpcError(pgError(code), () => 'err-22');
      expect(mapped).toEqual({
        code: status.INVALID_ARGUMENT,
        details: `a request value was refused by the database (data exception ${code}); error id err-22`,
        domainCode: 'DATA_EXCEPTION',
        errorId: 'err-22',
      });
    }
    // other classes stay what they were: a constraint violation the service did not expect is a bug
    expect(toGrpcError(pgError('23505'), () => 'e').code).toBe(status.INTERNAL);
    // and a plain error that merely has a code is not mistaken for PostgreSQL's
    expect(toGrpcError(Object.assign(new Error('x'), { code: '22021' }), () => 'e').code).toBe(
      status.INTERNAL,
    );
  });

  it('turns anything else into INTERNAL with an error id and no detail of the bug', () => {
    const mapped = toGrpcError(
      new TypeError('cannot read x of undefined at secret/path.ts'),
      () => 'err-123',
    );
    expect(mapped).toEqual({ code: status.INTERNAL, details: 'internal error err-123', errorId: 'err-123' });
  });

  it('keeps error metadata printable ASCII when the rule quotes the input', () => {
    const md = errorMetadata({
      code: status.INVALID_ARGUMENT,
      details: 'x',
      field: 'profile',
      rule: 'unknown profile "abc\u202edef\n"',
    });
    expect(md.get('citybase-error-rule')).toEqual(['unknown profile "abc?def?"']);
    expect(md.get(ERROR_FIELD_METADATA)).toEqual(['profile']);
  });
});
