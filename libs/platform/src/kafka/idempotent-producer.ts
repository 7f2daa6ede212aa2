import type { Kafka, Producer, ProducerBatch, ProducerConfig, ProducerRecord, RecordMetadata } from 'kafkajs';

/**
 * An idempotent kafkajs producer that starts over, with a new producer id, after a send failed.
 *
 * kafkajs gives a failed produce request's sequence numbers out again (sendMessages rolls them
 * back). But a request that failed on the client side (timeout, connection closed, its leader
 * SIGKILLed after the followers had it) may be in the log anyway, and the broker remembers its
 * sequence numbers: a later send of *other* messages, as many per partition, under the same
 * numbers is answered as a duplicate of it, acknowledged, and never written. The outbox relay
 * re-reads its batch after a failure, so the next batch can differ (a row with a lower id that
 * committed late, shards that moved): those events were marked published and lost. A fresh
 * producer id makes that impossible; what of the failed send did arrive may then arrive twice,
 * which every consumer skips by event id. Test: libs/platform/test/messaging/idempotent-producer.int-spec.ts.
 */
export class IdempotentProducer {
  private producer: Producer;
  /** A send failed: the next one goes out with a new producer id. */
  private failed = false;

  constructor(
    private readonly kafka: Kafka,
    private readonly config: Omit<ProducerConfig, 'idempotent'> = {},
  ) {
    this.producer = this.create();
  }

  private create(): Producer {
    return this.kafka.producer({ maxInFlightRequests: 1, ...this.config, idempotent: true });
  }

  connect(): Promise<void> {
    return this.producer.connect();
  }

  disconnect(): Promise<void> {
    return this.producer.disconnect();
  }

  send(record: ProducerRecord): Promise<RecordMetadata[]> {
    return this.guarded((p) => p.send(record));
  }

  sendBatch(batch: ProducerBatch): Promise<RecordMetadata[]> {
    return this.guarded((p) => p.sendBatch(batch));
  }

  private async guarded(send: (p: Producer) => Promise<RecordMetadata[]>): Promise<RecordMetadata[]> {
    if (this.failed) {
      const old = this.producer;
      this.producer = this.create();
      await old.disconnect().catch(() => undefined);
      await this.producer.connect(); // throws while the brokers are away: failed stays set
      this.failed = false;
    }
    try {
      return await send(this.producer);
    } catch (err) {
      this.failed = true;
      throw err;
    }
  }
}
