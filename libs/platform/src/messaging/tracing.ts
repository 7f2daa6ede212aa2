import {
  context,
  Link,
  propagation,
  ROOT_CONTEXT,
  Span,
  SpanKind,
  SpanStatusCode,
  trace,
} from '@opentelemetry/api';

const tracer = () => trace.getTracer('citybase-messaging');

/**
 * Producer span of one outbox row, child of the context the event was written in (its stored
 * traceparent), so the trace of a request continues through the relay. Returns the span and the
 * headers to send, carrying the span's own traceparent.
 */
export function startPublishSpan(
  topic: string,
  eventType: string,
  eventId: string,
  headers: Record<string, string>,
): { span: Span; headers: Record<string, string> } {
  const parent = propagation.extract(ROOT_CONTEXT, headers);
  const span = tracer().startSpan(
    `publish ${topic}`,
    {
      kind: SpanKind.PRODUCER,
      attributes: {
        'messaging.system': 'kafka',
        'messaging.operation.type': 'publish',
        'messaging.destination.name': topic,
        'messaging.message.id': eventId,
        'cloudevents.event_type': eventType,
      },
    },
    parent,
  );
  const out: Record<string, string> = { ...headers };
  delete out.traceparent;
  delete out.tracestate;
  propagation.inject(trace.setSpan(ROOT_CONTEXT, span), out);
  return { span, headers: out };
}

export function endSpan(span: Span, err?: unknown): void {
  if (err) {
    span.recordException(err as Error);
    span.setStatus({ code: SpanStatusCode.ERROR, message: (err as Error).message });
  }
  span.end();
}

/** Runs an event handler in a consumer span whose parent is the message's traceparent. */
export async function withProcessSpan<T>(
  consumer: string,
  topic: string,
  headers: Record<string, string>,
  attrs: { eventType: string; eventId?: string; partition: number; offset: string },
  fn: () => Promise<T>,
): Promise<T> {
  const parent = propagation.extract(ROOT_CONTEXT, headers);
  const span = tracer().startSpan(
    `process ${attrs.eventType}`,
    {
      kind: SpanKind.CONSUMER,
      attributes: {
        'messaging.system': 'kafka',
        'messaging.operation.type': 'process',
        'messaging.destination.name': topic,
        'messaging.consumer.group.name': consumer,
        'messaging.kafka.destination.partition': attrs.partition,
        'messaging.kafka.offset': attrs.offset,
        'cloudevents.event_type': attrs.eventType,
        ...(attrs.eventId ? { 'messaging.message.id': attrs.eventId } : {}),
      },
    },
    parent,
  );
  try {
    const result = await context.with(trace.setSpan(parent, span), fn);
    endSpan(span);
    return result;
  } catch (err) {
    endSpan(span, err);
    throw err;
  }
}

/**
 * Runs a group handler in one consumer span linked to every message's traceparent (a batch has
 * no single parent), as the OpenTelemetry messaging conventions do for batch processing.
 */
export async function withGroupProcessSpan<T>(
  consumer: string,
  topic: string,
  headers: readonly Record<string, string>[],
  attrs: { eventType: string; partition: number; offset: string },
  fn: () => Promise<T>,
): Promise<T> {
  const links: Link[] = [];
  for (const h of headers) {
    const linked = trace.getSpanContext(propagation.extract(ROOT_CONTEXT, h));
    if (linked) links.push({ context: linked });
  }
  const span = tracer().startSpan(
    `process ${attrs.eventType}`,
    {
      kind: SpanKind.CONSUMER,
      links,
      attributes: {
        'messaging.system': 'kafka',
        'messaging.operation.type': 'process',
        'messaging.destination.name': topic,
        'messaging.consumer.group.name': consumer,
        'messaging.kafka.destination.partition': attrs.partition,
        'messaging.kafka.offset': attrs.offset,
        'messaging.batch.message_count': headers.length,
        'cloudevents.event_type': attrs.eventType,
      },
    },
    ROOT_CONTEXT,
  );
  try {
    const result = await context.with(trace.setSpan(ROOT_CONTEXT, span), fn);
    endSpan(span);
    return result;
  } catch (err) {
    endSpan(span, err);
    throw err;
  }
}
