import { hash } from 'crypto';
import { Inject, Injectable, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import type { Kafka, Message, Producer } from 'kafkajs';
import { LRUCache } from 'lru-cache';
import type { Registry } from 'prom-client';
import {
  KAFKA,
  LOGGER,
  Logger,
  METRICS_REGISTRY,
  newEnvelope,
  SERVICE_CONFIG,
  toHeaders,
  toTimestamp,
} from '@citybase/platform';
import { AlarmSeverity } from '@citybase/contracts/citybase/iot/v1/iot';
import { reusingEncoder } from '@citybase/contracts/event-types';
import { IotEvents } from '@citybase/contracts/events';
import type { IotConfig } from '../config';
import { DeviceDirectory, DeviceEntry } from '../devices/device-directory';
import { IotMqtt, IotTopics, UpChannel } from '../mqtt';
import { watchedMetrics } from '../profiles/profiles';
import { DeviceEventRoutes } from './device-events';
import { ParsedMessage, parseDeviceMessage } from './ingest.domain';
import { IngestMetrics } from './ingest.metrics';

/** The device channels ingest takes in (commands/ack belongs to the commands room). */
export const INGESTED_CHANNELS = ['telemetry', 'events', 'alarms', 'state'] as const;

const SEVERITY: Record<string, AlarmSeverity> = {
  INFO: AlarmSeverity.ALARM_SEVERITY_INFO,
  WARNING: AlarmSeverity.ALARM_SEVERITY_WARNING,
  CRITICAL: AlarmSeverity.ALARM_SEVERITY_CRITICAL,
};

const NO_READINGS = Object.freeze([]) as unknown as ParsedMessage['readings'];

interface Outgoing {
  topic: string;
  message: Message;
  receivedAt: number;
  deviceTs: number | undefined;
  done: () => void;
}

/**
 * The CloudEvents id of a device message: the same for every copy of (device, message id), so a
 * message the broker delivered twice (e.g. after iot was killed before its PUBACK) is one event to
 * every idempotent consumer downstream.
 */
export function deviceEventId(deviceId: string, messageId: string, kind: string): string {
  // one-shot hash: no Hash object per message (it was the largest part of enqueue's own time)
  const h = hash('sha1', `${kind}/${deviceId}/${messageId}`, 'buffer');
  h[6] = (h[6]! & 0x0f) | 0x50; // version 5
  h[8] = (h[8]! & 0x3f) | 0x80; // RFC 4122 variant
  // the 16 bytes as hex into a reused buffer, then one string (no slices to join)
  for (let i = 0; i < 16; i++) {
    const at = UUID_HEX_AT[i]!;
    ID_CHARS[at] = HEX_DIGITS[h[i]! >> 4]!;
    ID_CHARS[at + 1] = HEX_DIGITS[h[i]! & 0x0f]!;
  }
  return ID_CHARS.toString('latin1', 0, 36);
}

const HEX_DIGITS = Buffer.from('0123456789abcdef', 'latin1');
/** Where byte i's two hex digits go in the 8-4-4-4-12 form. */
const UUID_HEX_AT = [0, 2, 4, 6, 9, 11, 14, 16, 19, 21, 24, 26, 28, 30, 32, 34];
const ID_CHARS = Buffer.from('00000000-0000-0000-0000-000000000000', 'latin1');

/**
 * Ingest without loss (docs/iot.md "Ingest"): device messages from the broker's shared
 * subscriptions to Kafka, telemetry, events and lifecycle to citybase.iot.telemetry.v1, alarms and
 * the readings an alarm rule watches to citybase.iot.alarms.v1, keyed by device id, in batches.
 * A message's PUBACK goes to the broker only once Kafka acknowledged its batch: a message iot
 * dies with is sent again by the broker (its session outlives the process). Copies of a
 * (device, message id) seen in the last IOT_INGEST_DEDUP_WINDOW messages are not forwarded again
 * (a copy that arrives while the first waits for Kafka waits with it). Past IOT_INGEST_MAX_PENDING
 * messages waiting for Kafka, new ones wait too (iot_ingest_throttled_total): the broker holds
 * them, nothing is dropped silently.
 */
@Injectable()
export class IngestService implements OnModuleInit, OnApplicationShutdown {
  private readonly metrics: IngestMetrics;
  private producer?: Producer;
  private buffer: Outgoing[] = [];
  private timer?: NodeJS.Timeout;
  private inFlight = 0;
  private pending = 0;
  private flushing = Promise.resolve();
  /**
   * The last IOT_INGEST_DEDUP_WINDOW (device, message id) keys: forwarded (true) or on their way.
   * Not a Map trimmed from its front: V8's iterator walks over the holes deletions leave at the
   * front of a Map's table, so taking the oldest key cost more with every deletion (18% of iot's
   * busy time under bench iot's load).
   */
  private readonly seen?: LRUCache<string, Promise<void> | true>;
  private readonly waiters: (() => void)[] = [];
  private stopping = false;
  private readonly telemetryTopic: string;
  private readonly alarmsTopic: string;
  private readonly source: { city: string; service: string };
  private readonly encodeTelemetry = reusingEncoder(IotEvents.TelemetryReported.codec);
  private readonly encodeAlarm = reusingEncoder(IotEvents.AlarmSignal.codec);

  constructor(
    @Inject(SERVICE_CONFIG) private readonly config: IotConfig,
    @Inject(KAFKA) private readonly kafka: Kafka,
    @Inject(LOGGER) private readonly logger: Logger,
    @Inject(METRICS_REGISTRY) registry: Registry,
    private readonly mqtt: IotMqtt,
    private readonly topics: IotTopics,
    private readonly directory: DeviceDirectory,
    private readonly routes: DeviceEventRoutes,
  ) {
    this.metrics = new IngestMetrics(registry, () => this.pending);
    this.telemetryTopic = config.KAFKA_TOPIC_PREFIX + IotEvents.TelemetryReported.topic;
    this.alarmsTopic = config.KAFKA_TOPIC_PREFIX + IotEvents.AlarmSignal.topic;
    this.source = { city: config.CITY_ID, service: 'iot' };
    if (config.IOT_INGEST_DEDUP_WINDOW > 0) this.seen = new LRUCache({ max: config.IOT_INGEST_DEDUP_WINDOW });
  }

  async onModuleInit(): Promise<void> {
    this.producer = this.kafka.producer({ allowAutoTopicCreation: false });
    await this.producer.connect();
    for (const channel of INGESTED_CHANNELS) {
      await this.mqtt.subscribe(
        this.topics.everyDevice(channel),
        (topic, payload) => this.receive(topic, payload),
        // device alarms on their own connection: a telemetry backlog at the broker never delays them
        { shared: true, ackAfterHandled: true, urgent: channel === 'alarms' },
      );
    }
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopping = true;
    clearTimeout(this.timer);
    await this.flush();
    await this.producer?.disconnect();
  }

  /** Messages received and not yet acknowledged by Kafka. */
  get pendingCount(): number {
    return this.pending;
  }

  /** One device message; resolves when it may be acknowledged to the broker. */
  async receive(topic: string, payload: Buffer): Promise<void> {
    const receivedAt = Date.now();
    const where = this.topics.parse(topic);
    if (!where || where.channel === 'commands') return this.drop('bad_topic');
    const channel = where.channel as UpChannel;
    this.metrics.receivedOn(channel).inc();
    const parsed = parseDeviceMessage(channel, payload);
    if (!parsed.ok) return this.drop(parsed.reason);
    const found = this.directory.get(where.deviceId);
    const device = found instanceof Promise ? await found : found;
    if (!device || device.projectId !== where.projectId) return this.drop('unknown_device');
    if (!device.active) return this.drop('revoked');
    const key = `${device.deviceId}/${parsed.message.messageId}`;
    const earlier = this.seen?.get(key);
    if (earlier) {
      this.metrics.dropped.inc({ reason: 'duplicate' });
      // the first copy may still wait for Kafka: this one is acknowledged with it
      return earlier === true ? this.ack() : earlier.then(() => this.ack());
    }
    if (this.pending >= this.config.IOT_INGEST_MAX_PENDING) {
      this.metrics.throttled.inc();
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
    const m = parsed.message;
    const forwarded = this.forward(device, m, receivedAt);
    // a business event (plate read, charger session event) is also applied by its room
    const handled =
      m.channel === 'events' && this.routes.handles(m.eventType)
        ? Promise.all([
            forwarded,
            this.routes.apply({
              device,
              messageId: m.messageId,
              type: m.eventType,
              ts: m.ts,
              data: m.data ?? {},
            }),
          ]).then(() => undefined)
        : forwarded;
    this.remember(key, handled);
    try {
      await handled;
    } catch (err) {
      // not acknowledged: the broker sends it again, and then it is not a duplicate
      this.seen?.delete(key);
      throw err;
    }
    this.ack();
  }

  private forward(device: DeviceEntry, m: ParsedMessage, receivedAt: number): Promise<void> {
    const tenancy = { operatorId: device.operatorId, projectId: device.projectId, merchantId: '' };
    const occurredAt = toTimestamp(m.ts ?? new Date(receivedAt));
    const receivedTs = toTimestamp(new Date(receivedAt));
    const parts: Promise<void>[] = [];
    if (m.channel !== 'alarms') {
      const value = this.encodeTelemetry({
        deviceId: device.deviceId,
        tenancy,
        readings: m.readings,
        occurredAt,
        messageId: m.messageId,
        channel: m.channel,
        eventType: m.eventType,
        receivedAt: receivedTs,
        online: m.state?.online ?? false,
        session: m.state?.session ?? 0n,
        reason: m.state?.reason ?? '',
      });
      parts.push(
        this.enqueue(this.telemetryTopic, IotEvents.TelemetryReported.type, device, m, value, receivedAt),
      );
    }
    const watched = device.profile ? watchedMetrics(device.profile) : undefined;
    const alarmReadings =
      watched && watched.size > 0 ? m.readings.filter((r) => watched.has(r.metric)) : NO_READINGS;
    if (m.alarm || alarmReadings.length > 0) {
      const value = this.encodeAlarm({
        deviceId: device.deviceId,
        tenancy,
        messageId: m.messageId,
        readings: alarmReadings,
        alarmType: m.alarm?.type ?? '',
        alarmActive: m.alarm?.active ?? false,
        severity: m.alarm ? (SEVERITY[m.alarm.severity] ?? AlarmSeverity.ALARM_SEVERITY_WARNING) : 0,
        occurredAt,
        receivedAt: receivedTs,
      });
      parts.push(this.enqueue(this.alarmsTopic, IotEvents.AlarmSignal.type, device, m, value, receivedAt));
    }
    return parts.length === 1 ? parts[0]! : Promise.all(parts).then(() => undefined);
  }

  private enqueue(
    topic: string,
    type: string,
    device: DeviceEntry,
    m: ParsedMessage,
    value: Uint8Array,
    receivedAt: number,
  ): Promise<void> {
    const envelope = newEnvelope({
      ...this.source,
      type,
      id: deviceEventId(device.deviceId, m.messageId, type),
      subject: device.deviceId,
      tenancy: { operatorId: device.operatorId, projectId: device.projectId },
      time: m.ts ?? new Date(receivedAt),
    });
    this.pending += 1;
    return new Promise<void>((done) => {
      this.buffer.push({
        topic,
        // a view of the encoded bytes, not a copy
        message: {
          key: device.deviceId,
          value: Buffer.from(value.buffer, value.byteOffset, value.byteLength),
          headers: toHeaders(envelope),
        },
        receivedAt,
        deviceTs: m.ts?.getTime(),
        done,
      });
      // alarms never wait for a batch of telemetry to fill
      if (topic === this.alarmsTopic || this.buffer.length >= this.config.IOT_INGEST_BATCH_SIZE) this.kick();
      else this.timer ??= setTimeout(() => this.kick(), this.config.IOT_INGEST_LINGER_MS);
    });
  }

  private kick(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.buffer.length === 0) return;
    const batch = this.buffer;
    this.buffer = [];
    this.inFlight += 1;
    void this.send(batch).finally(() => (this.inFlight -= 1));
  }

  private async flush(): Promise<void> {
    this.kick();
    while (this.inFlight > 0) await new Promise((r) => setTimeout(r, 10));
    await this.flushing;
  }

  /** Sends one batch, again and again until Kafka has it; then its messages may be acknowledged. */
  private async send(batch: Outgoing[]): Promise<void> {
    const byTopic = new Map<string, Message[]>();
    for (const o of batch) {
      const messages = byTopic.get(o.topic);
      if (messages) messages.push(o.message);
      else byTopic.set(o.topic, [o.message]);
    }
    this.metrics.batchSize.observe(batch.length);
    for (let attempt = 1; ; attempt++) {
      try {
        await this.producer!.sendBatch({
          acks: -1,
          topicMessages: [...byTopic].map(([topic, messages]) => ({ topic, messages })),
        });
        break;
      } catch (err) {
        this.metrics.kafkaFailures.inc();
        this.logger.warn({ err, attempt, messages: batch.length }, 'kafka batch failed; sending it again');
        if (this.stopping && attempt >= 3) return; // never acked: the broker sends them again
        await new Promise((r) => setTimeout(r, Math.min(2_000, 50 * attempt)));
      }
    }
    const now = Date.now();
    let alarms = 0;
    for (const o of batch) {
      if (o.topic === this.alarmsTopic) alarms += 1;
      this.metrics.lag.observe((now - o.receivedAt) / 1000);
      if (o.deviceTs !== undefined) this.metrics.deviceLag.observe(Math.max(0, now - o.deviceTs) / 1000);
      this.pending -= 1;
      o.done();
    }
    if (alarms > 0) this.metrics.forwarded.inc({ topic: 'alarms' }, alarms);
    if (batch.length > alarms) this.metrics.forwarded.inc({ topic: 'telemetry' }, batch.length - alarms);
    while (this.pending < this.config.IOT_INGEST_MAX_PENDING && this.waiters.length > 0)
      this.waiters.shift()!();
  }

  private remember(key: string, forwarded: Promise<void>): void {
    const seen = this.seen;
    if (!seen) return;
    seen.set(key, forwarded);
    void forwarded.then(
      // still the same entry: a later copy's promise (after a failure) is not overwritten
      () => seen.peek(key) === forwarded && seen.set(key, true),
      () => undefined,
    );
  }

  private ack(): void {
    this.metrics.acked.inc();
  }

  /** A message dropped on purpose: counted, then acknowledged (sending it again would not help). */
  private drop(reason: string): void {
    this.metrics.dropped.inc({ reason });
    this.ack();
  }
}
