import { Counter, Gauge, Histogram, Registry } from 'prom-client';

/** Metrics of ingest (docs/iot.md "Ingest"). */
export class IngestMetrics {
  readonly received: Counter<'channel'>;
  readonly forwarded: Counter<'topic'>;
  readonly acked: Counter;
  readonly dropped: Counter<'reason'>;
  readonly throttled: Counter;
  readonly pending: Gauge;
  readonly batchSize: Histogram;
  readonly lag: Histogram;
  readonly deviceLag: Histogram;
  readonly kafkaFailures: Counter;
  private readonly receivedByChannel = new Map<string, Counter.Internal>();

  /** `pending`: read when /metrics is scraped, so nothing is set per message. */
  constructor(registry: Registry, pending: () => number) {
    this.received = new Counter({
      name: 'iot_ingest_received_total',
      help: 'Device messages received from the broker',
      labelNames: ['channel'],
      registers: [registry],
    });
    this.forwarded = new Counter({
      name: 'iot_ingest_forwarded_total',
      help: 'Messages Kafka acknowledged, by topic',
      labelNames: ['topic'],
      registers: [registry],
    });
    this.acked = new Counter({
      name: 'iot_ingest_acked_total',
      help: 'Device messages acknowledged to the broker (PUBACK) after Kafka had them, or dropped on purpose',
      registers: [registry],
    });
    this.dropped = new Counter({
      name: 'iot_ingest_dropped_total',
      help: 'Device messages dropped on purpose, by reason (duplicate, malformed, unknown_device, revoked, ...)',
      labelNames: ['reason'],
      registers: [registry],
    });
    this.throttled = new Counter({
      name: 'iot_ingest_throttled_total',
      help: 'Messages that waited because IOT_INGEST_MAX_PENDING were already waiting for Kafka',
      registers: [registry],
    });
    this.pending = new Gauge({
      name: 'iot_ingest_pending',
      help: 'Messages received and not yet acknowledged by Kafka (the visible queue)',
      registers: [registry],
      collect() {
        this.set(pending());
      },
    });
    this.batchSize = new Histogram({
      name: 'iot_ingest_batch_size',
      help: 'Messages per Kafka batch',
      buckets: [1, 10, 50, 100, 250, 500, 1000, 2500, 5000],
      registers: [registry],
    });
    this.lag = new Histogram({
      name: 'iot_ingest_lag_seconds',
      help: 'From receipt from the broker to Kafka acknowledging it',
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    });
    this.deviceLag = new Histogram({
      name: 'iot_ingest_device_lag_seconds',
      help: "From the device's timestamp to Kafka acknowledging it (device clocks may be off)",
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers: [registry],
    });
    this.kafkaFailures = new Counter({
      name: 'iot_ingest_kafka_failures_total',
      help: 'Kafka batches that failed and were sent again',
      registers: [registry],
    });
  }

  /** The received counter of one channel (its labelled child, looked up once per channel). */
  receivedOn(channel: string): Counter.Internal {
    let c = this.receivedByChannel.get(channel);
    if (!c) {
      c = this.received.labels({ channel });
      this.receivedByChannel.set(channel, c);
    }
    return c;
  }
}
