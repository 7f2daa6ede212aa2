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
    this.outboxBacklog = new Gauge({
      name: 'outbox_backlog',
      help: 'Outbox rows not yet published',
      registers,
    });
    this.outboxOldestAge = new Gauge({
      name: 'outbox_oldest_unpublished_age_seconds',
      help: 'Age of the oldest unpublished outbox row',
      registers,
    });
    this.published = new Counter({
      name: 'events_published_total',
      help: 'Events published from the outbox',
      labelNames: ['topic', 'type'],
      registers,
    });
    this.consumed = new Counter({
      name: 'events_consumed_total',
      help: 'Events consumed, by outcome (applied, duplicate, ignored, dead_lettered)',
      labelNames: ['consumer', 'type', 'outcome'],
      registers,
    });
    this.handlerSeconds = new Histogram({
      name: 'event_handler_duration_seconds',
      help: 'Time to apply one event (handler and inbox write)',
      labelNames: ['consumer', 'type'],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
      registers,
    });
    this.retries = new Counter({
      name: 'event_handler_retries_total',
      help: 'Handler attempts that failed and were retried',
      labelNames: ['consumer', 'type'],
      registers,
    });
    this.deadLettered = new Counter({
      name: 'events_dead_lettered_total',
      help: 'Events sent to the dead-letter topic',
      labelNames: ['consumer', 'type'],
      registers,
    });
    this.lag = new Gauge({
      name: 'consumer_lag',
      help: 'Messages behind the high watermark, per partition',
      labelNames: ['consumer', 'topic', 'partition'],
      registers,
    });
  }
}
