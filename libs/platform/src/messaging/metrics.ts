import { Counter, Gauge, Histogram, Registry } from 'prom-client';

/** The backbone's Prometheus metrics, created once per registry. */
export class MessagingMetrics {
  private static readonly perRegistry = new WeakMap<Registry, MessagingMetrics>();

  static for(registry: Registry): MessagingMetrics {
    let m = MessagingMetrics.perRegistry.get(registry);
    if (!m) {
      m = new MessagingMetrics(registry);
      MessagingMetrics.perRegistry.set(registry, m);
    }
    return m;
  }

  readonly outboxBacklog: Gauge;
  readonly outboxOldestAge: Gauge;
  readonly published: Counter<'topic' | 'type'>;
  readonly consumed: Counter<'consumer' | 'type' | 'outcome'>;
  readonly handlerSeconds: Histogram<'consumer' | 'type'>;
  readonly retries: Counter<'consumer' | 'type'>;
  readonly deadLettered: Counter<'consumer' | 'type'>;
  readonly lag: Gauge<'consumer' | 'topic' | 'partition'>;

  private constructor(registry: Registry) {
    const registers = [registry];
    const gauge = <L extends string>(name: string, help: string, labelNames: readonly L[] = []) =>
      new Gauge<L>({ name, help, labelNames, registers });
    const counter = <L extends string>(name: string, help: string, labelNames: readonly L[]) =>
      new Counter<L>({ name, help, labelNames, registers });
    this.outboxBacklog = gauge('outbox_backlog', 'Outbox rows not yet published');
    this.outboxOldestAge = gauge(
      'outbox_oldest_unpublished_age_seconds',
      'Age of the oldest unpublished outbox row',
    );
    this.published = counter('events_published_total', 'Events published from the outbox', ['topic', 'type']);
    this.consumed = counter(
      'events_consumed_total',
      'Events consumed, by outcome (applied, duplicate, ignored, dead_lettered)',
      ['consumer', 'type', 'outcome'],
    );
    this.handlerSeconds = new Histogram({
      name: 'event_handler_duration_seconds',
      help: 'Time to apply one event (handler and inbox write)',
      labelNames: ['consumer', 'type'],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
      registers,
    });
    this.retries = counter('event_handler_retries_total', 'Handler attempts that failed and were retried', [
      'consumer',
      'type',
    ]);
    this.deadLettered = counter('events_dead_lettered_total', 'Events sent to the dead-letter topic', [
      'consumer',
      'type',
    ]);
    this.lag = gauge('consumer_lag', 'Messages behind the high watermark, per partition', [
      'consumer',
      'topic',
      'partition',
    ]);
  }
}
