import type { ServiceError } from '@grpc/grpc-js';
import { ERROR_CODE_METADATA, ERROR_FIELD_METADATA } from '../grpc/status-mapping';

/** The gRPC error of a call that must fail; fails the test if it succeeded. */
export async function grpcError(call: Promise<unknown>): Promise<ServiceError> {
  try {
    await call;
  } catch (err) {
    return err as ServiceError;
  }
  throw new Error('expected the call to fail, but it succeeded');
}

/** The request field the error names (metadata citybase-error-field), if any. */
export function errorField(err: ServiceError): string | undefined {
  const v = err.metadata?.get(ERROR_FIELD_METADATA)[0];
  return typeof v === 'string' ? v : undefined;
}

/** The service's own error code (metadata citybase-error-code), if any. */
export function errorCode(err: ServiceError): string | undefined {
  const v = err.metadata?.get(ERROR_CODE_METADATA)[0];
  return typeof v === 'string' ? v : undefined;
}
