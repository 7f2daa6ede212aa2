import type { Server, ServiceDefinition, UntypedHandleCall } from '@grpc/grpc-js';
import { status } from '@grpc/grpc-js';
import { Counter, Histogram, Registry } from 'prom-client';
import type { UnaryImpl, ServerStreamImpl } from './handler-types';

/** The status a handler answered with: what its callback or stream error carried (grpc-js's reading). */
function statusOf(err: unknown): number {
  if (err === null || err === undefined) return status.OK;
  const code = (err as { code?: unknown }).code;
  return typeof code === 'number' && status[code] !== undefined ? code : status.UNKNOWN;
}

/**
 * Counts and times every call of the services later added to `server`, by RPC path and the status it
 * ended with: `grpc_server_handled_total{rpc,code}` and `grpc_server_handling_seconds{rpc}`. Called
 * once per server before guardServer, so that it wraps everything after it: a call refused by
 * authentication or the request screen is counted with its status, and the time includes theirs.
 *
 * It wraps the transport's handlers instead of being a Nest interceptor: a global Nest interceptor
 * put every call, and every request of the ops HTTP endpoints, through Nest's interceptor chain
 * (an rxjs pipe and two AsyncResource bindings each), about a tenth of the allocations of a token
 * issuance (docs/performance.md, identity).
 */
export function meterServer(server: Pick<Server, 'addService'>, registry: Registry): void {
  const handled = new Counter({
    name: 'grpc_server_handled_total',
    help: 'gRPC calls completed, by RPC and status code',
    labelNames: ['rpc', 'code'],
    registers: [registry],
  });
  const latency = new Histogram({
    name: 'grpc_server_handling_seconds',
    help: 'gRPC call latency on the server, from the call to its status',
    labelNames: ['rpc'],
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [registry],
  });
  const addService = server.addService.bind(server);
  server.addService = (definition: ServiceDefinition, implementation: Record<string, UntypedHandleCall>) => {
    const metered: Record<string, UntypedHandleCall> = {};
    for (const [key, method] of Object.entries(definition)) {
      const impl = implementation[key] ?? implementation[method.originalName ?? ''];
      if (!impl) continue;
      const rpc = method.path;
      const timing = latency.labels(rpc);
      // one counter child per status this RPC has ended with, looked up once
      const counters = new Map<number, Counter.Internal>();
      const record = (started: number, code: number) => {
        timing.observe((performance.now() - started) / 1000);
        let counter = counters.get(code);
        if (!counter) counters.set(code, (counter = handled.labels(rpc, status[code] ?? String(code))));
        counter.inc();
      };
      if (method.requestStream) {
        // not metered: no Citybase RPC streams requests, and guardServer refuses them at startup
        metered[key] = impl;
      } else if (method.responseStream) {
        const streamImpl = impl as ServerStreamImpl;
        const handler: ServerStreamImpl = (call) => {
          const started = performance.now();
          let code: number = status.OK;
          let done = false;
          const finish = () => {
            if (done) return;
            done = true;
            record(started, code);
          };
          // grpc-js ends the stream with the status of an emitted error, else OK when it finishes
          call.on('error', (err: unknown) => (code = statusOf(err)));
          call.once('finish', finish);
          call.once('cancelled', () => {
            code = status.CANCELLED;
            finish();
          });
          streamImpl(call);
        };
        metered[key] = handler as UntypedHandleCall;
      } else {
        const unaryImpl = impl as UnaryImpl;
        const handler: UnaryImpl = (call, callback) => {
          const started = performance.now();
          unaryImpl(call, (err, value, trailer, flags) => {
            record(started, statusOf(err));
            callback(err, value, trailer, flags);
          });
        };
        metered[key] = handler as UntypedHandleCall;
      }
    }
    addService(definition, metered);
  };
}
