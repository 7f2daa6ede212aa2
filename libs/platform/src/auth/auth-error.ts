import { DomainError } from '../errors';

/**
 * Why a token was refused. Every code maps to UNAUTHENTICATED; the codes exist so that tests, logs
 * and the `citybase-error-code` trailer can tell the cases apart without parsing messages.
 */
export type AuthErrorCode =
  | 'TOKEN_MISSING'
  | 'TOKEN_MALFORMED'
  | 'TOKEN_ALG_UNSUPPORTED'
  | 'TOKEN_KID_MISSING'
  | 'TOKEN_KID_UNKNOWN'
  | 'TOKEN_SIGNATURE_INVALID'
  | 'TOKEN_EXPIRED'
  | 'TOKEN_NOT_YET_VALID'
  | 'TOKEN_ISSUER_INVALID'
  | 'TOKEN_AUDIENCE_INVALID'
  | 'TOKEN_CITY_INVALID'
  | 'TOKEN_CLAIMS_INVALID'
  | 'TOKEN_REVOKED';

/**
 * The caller could not be authenticated. A DomainError of kind 'unauthenticated', so the existing
 * GrpcErrorFilter turns it into UNAUTHENTICATED with the code in the trailers. Messages say what is
 * wrong with the token, never anything about keys or other callers.
 */
export class AuthError extends DomainError {
  declare readonly code: AuthErrorCode;

  constructor(code: AuthErrorCode, message: string) {
    super('unauthenticated', code, message);
    this.name = 'AuthError';
  }
}
