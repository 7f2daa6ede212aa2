import { ArgumentsHost, Catch, ExceptionFilter, HttpException } from '@nestjs/common';
import { randomUUID } from 'crypto';
import { Observable, throwError } from 'rxjs';
import type { Logger } from 'pino';
import { errorMetadata, toGrpcError } from './status-mapping';

/**
 * The gRPC transport's only exception filter: domain and infrastructure errors become their status
 * with a message naming the field and rule; anything else is a bug, logged with an error id that
 * the caller sees (and nothing else of it).
 */
@Catch()
export class GrpcErrorFilter implements ExceptionFilter<unknown> {
  constructor(private readonly logger: Logger) {}

  catch(exception: unknown, host: ArgumentsHost): Observable<never> | void {
    if (host.getType() !== 'rpc') return this.catchHttp(exception, host);
    const mapped = toGrpcError(exception, randomUUID);
    if (mapped.errorId) {
      const rpc = host.switchToRpc();
      const handler = (rpc.getContext() as { call?: { getPath?: () => string } })?.call?.getPath?.();
      this.logger.error(
        { err: exception, error_id: mapped.errorId, handler },
        'unhandled error in gRPC handler',
      );
    }
    return throwError(() => ({
      code: mapped.code,
      details: mapped.details,
      message: mapped.details,
      metadata: errorMetadata(mapped),
    }));
  }

  /** The ops HTTP endpoints share the app (hybrid); their errors stay plain HTTP errors. */
  private catchHttp(exception: unknown, host: ArgumentsHost): void {
    const res = host.switchToHttp().getResponse<{ status(code: number): { json(body: unknown): void } }>();
    if (exception instanceof HttpException) {
      res.status(exception.getStatus()).json({ error: exception.message });
      return;
    }
    const errorId = randomUUID();
    this.logger.error({ err: exception, error_id: errorId }, 'unhandled error in HTTP handler');
    res.status(500).json({ error: `internal error ${errorId}` });
  }
}
