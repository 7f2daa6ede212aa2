import { NodeSDK } from '@opentelemetry/sdk-node';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { GrpcInstrumentation } from '@opentelemetry/instrumentation-grpc';
import { HttpInstrumentation } from '@opentelemetry/instrumentation-http';
import { IORedisInstrumentation } from '@opentelemetry/instrumentation-ioredis';
import { PgInstrumentation } from '@opentelemetry/instrumentation-pg';

let sdk: NodeSDK | undefined;

/**
 * Starts OpenTelemetry tracing; Kafka spans come from the event backbone (relay publish and consumer
 * process spans, messaging/tracing.ts). Must run before the instrumented modules are first
 * required: each service's src/instrumentation.ts calls it and main.ts imports that file first.
 *
 * With OTEL_EXPORTER_OTLP_ENDPOINT set, spans of gRPC, HTTP, PostgreSQL (pg) and Redis (ioredis)
 * are exported over OTLP/HTTP. Without it only gRPC and HTTP are instrumented: their spans carry
 * the trace context (trace ids in logs, traceparent on outgoing gRPC calls and, through the
 * backbone, on Kafka messages) and go nowhere; a span per database or Redis command would be pure
 * cost (docs/performance.md: what OpenTelemetry costs).
 */
export function startTelemetry(serviceName: string, env: NodeJS.ProcessEnv = process.env): void {
  if (sdk) return;
  const endpoint = env.OTEL_EXPORTER_OTLP_ENDPOINT;
  // Metrics are served by prom-client on /metrics and logs go to stdout: the SDK must not start its
  // own OTLP metric and log exporters (they retried an absent collector for seconds at shutdown).
  env.OTEL_METRICS_EXPORTER ??= 'none';
  env.OTEL_LOGS_EXPORTER ??= 'none';
  const propagating = [
    new HttpInstrumentation({
      ignoreIncomingRequestHook: (req) => /^\/(healthz|readyz|metrics)/.test(req.url ?? ''),
    }),
    new GrpcInstrumentation({ ignoreGrpcMethods: ['Check', 'Watch'] }),
  ];
  sdk = new NodeSDK({
    serviceName: `citybase-${serviceName}`,
    ...(endpoint
      ? {
          traceExporter: new OTLPTraceExporter({ url: `${endpoint.replace(/\/$/, '')}/v1/traces` }),
          instrumentations: [
            ...propagating,
            new PgInstrumentation({ requireParentSpan: true }),
            new IORedisInstrumentation({ requireParentSpan: true }),
          ],
        }
      : { spanProcessors: [], instrumentations: propagating }),
    // No kafkajs auto-instrumentation: it would re-parent every published message on the relay's
    // loop and overwrite its traceparent. The backbone makes Kafka spans itself (messaging/tracing.ts)
    // so a trace runs from the originating request through the outbox, Kafka and the consumer.
  });
  sdk.start();
}

export async function stopTelemetry(): Promise<void> {
  await sdk?.shutdown().catch(() => undefined);
  sdk = undefined;
}
