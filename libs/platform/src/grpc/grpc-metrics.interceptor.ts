import { status } from '@grpc/grpc-js';
import { CallHandler, ExecutionContext, Injectable, NestInterceptor } from '@nestjs/common';
import { Observable, tap } from 'rxjs';
import { Counter, Histogram, Registry } from 'prom-client';
import { toGrpcError } from './status-mapping';

/** Counts and times every gRPC call by method and resulting status code. */
@Injectable()
export class GrpcMetricsInterceptor implements NestInterceptor {
  private readonly handled: Counter<'method' | 'code'>;
  private readonly latency: Histogram<'method'>;

  constructor(registry: Registry) {
    this.handled = new Counter({
      name: 'grpc_server_handled_total',
      help: 'gRPC calls completed, by method and status code',
      labelNames: ['method', 'code'],
      registers: [registry],
    });
    this.latency = new Histogram({
      name: 'grpc_server_handling_seconds',
      help: 'gRPC handler latency',
      labelNames: ['method'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [registry],
    });
  }

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    if (context.getType() !== 'rpc') return next.handle();
    const method = `${context.getClass().name}.${context.getHandler().name}`;
    const end = this.latency.startTimer({ method });
    return next.handle().pipe(
      tap({
        complete: () => {
          end();
          this.handled.inc({ method, code: status[status.OK] });
        },
        error: (err: unknown) => {
          end();
          this.handled.inc({ method, code: status[toGrpcError(err, () => '').code] });
        },
      }),
    );
  }
}
