import { isStalePreparedStatement } from '../db/prepared';

/**
 * Business rules throw DomainError, never transport exceptions. `kind` says what sort of failure it
 * is (the only thing the transport needs); `code` is the service's own stable error code
 * (e.g. REFUND_EXCEEDS_PAID); `field` and `rule` tell the caller exactly what to fix.
 */
export type DomainErrorKind =
  | 'invalid_argument'
  | 'not_found'
  | 'already_exists'
  | 'failed_precondition'
  | 'permission_denied'
  | 'unauthenticated'
  | 'resource_exhausted'
  | 'aborted';

export interface DomainErrorDetail {
  readonly field?: string;
  readonly rule?: string;
  /** For resource_exhausted: when to try again, in seconds (sent as the `retry-after` trailer). */
  readonly retryAfterSeconds?: number;
}

export class DomainError extends Error {
  constructor(
    readonly kind: DomainErrorKind,
    readonly code: string,
    message: string,
    readonly detail: DomainErrorDetail = {},
  ) {
    super(message);
    this.name = 'DomainError';
  }

  /** `field` broke `rule`: the message names both, e.g. "amount.amount_minor: must be positive". */
  static invalid(field: string, rule: string, code = 'INVALID_ARGUMENT'): DomainError {
    return new DomainError('invalid_argument', code, `${field}: ${rule}`, { field, rule });
  }

  static notFound(what: string, id: string, code = 'NOT_FOUND'): DomainError {
    return new DomainError('not_found', code, `${what} ${id} not found`);
  }

  static precondition(code: string, message: string): DomainError {
    return new DomainError('failed_precondition', code, message);
  }

  /** An idempotency key (request_id) sent again with a different request. */
  static requestIdReused(): DomainError {
    return new DomainError(
      'already_exists',
      'REQUEST_ID_REUSED',
      'request_id: already used for a different request',
      {
        field: 'request_id',
        rule: 'must identify one request',
      },
    );
  }

  /** The first request with this idempotency key has not completed (it rolled back or is still running). */
  static requestInFlight(): DomainError {
    return DomainError.precondition(
      'REQUEST_IN_FLIGHT',
      'request_id: the first request with this key did not complete; retry',
    );
  }
}

/**
 * Failures of infrastructure (database serialization conflicts, a broker that is down). They are
 * retryable and must never be reported as a business outcome such as "insufficient funds".
 */
export class InfrastructureError extends Error {
  constructor(
    readonly kind: 'unavailable' | 'aborted' | 'deadline_exceeded',
    message: string,
    override readonly cause?: unknown,
  ) {
    super(message);
    this.name = 'InfrastructureError';
  }
}

const RETRYABLE_PG_CODES = new Set(['40001', '40P01']); // serialization_failure, deadlock_detected
const UNAVAILABLE_PG_CODES = /^(08|57P0|53)/; // connection exceptions, admin shutdown, insufficient resources

/**
 * Failures to reach the database that carry no SQLSTATE: node-postgres' own pool wait timeout, a
 * refused or reset socket, a connection dropped mid-query, a server starting or stopping.
 */
const CONNECTION_FAILURE =
  /ECONNREFUSED|ECONNRESET|Connection terminated|timeout exceeded when trying to connect|the database system is (starting up|shutting down)/i;

/**
 * Classifies a thrown PostgreSQL error, if it is one that callers should retry rather than report:
 * a conflict (ABORTED) or the database out of reach, also while waiting for a pooled connection
 * (UNAVAILABLE): an overloaded or restarting database is an outage, never an INTERNAL bug.
 */
export function classifyPgError(err: unknown): InfrastructureError | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code !== 'string' || !/^[0-9A-Z]{5}$/.test(code)) {
    const message = (err as { message?: unknown } | null)?.message;
    return typeof message === 'string' && CONNECTION_FAILURE.test(message)
      ? new InfrastructureError('unavailable', 'unavailable: no connection to the server, retry', err)
      : undefined;
  }
  if (RETRYABLE_PG_CODES.has(code))
    return new InfrastructureError('aborted', `database conflict (${code}), retry`, err);
  // a prepared statement whose result columns a migration changed: prepared afresh on the retry
  if (isStalePreparedStatement(err))
    return new InfrastructureError(
      'aborted',
      `statement prepared before a schema change (${code}), retry`,
      err,
    );
  if (UNAVAILABLE_PG_CODES.test(code))
    return new InfrastructureError('unavailable', `database unavailable (${code})`, err);
  return undefined;
}
