import type { Consumer, Kafka, KafkaMessage } from 'kafkajs';
import { fromTimestamp, Logger, Outbox, Pool, toTimestamp, withTransaction } from '@citybase/platform';
import type { TelemetryReported } from '@citybase/contracts/citybase/iot/v1/events';
import { IotEvents } from '@citybase/contracts/events';
import type { IotConfig } from '../config';
import { applyPresence, INITIAL, Presence, PresenceInput } from '../presence/presence.domain';
import {
  ensurePartitions,
  HistoryRow,
  insertHistory,
  lockPresence,
  savePresence,
  upsertState,
} from './history.store';

const CHUNK = 2_000;
const DAY_MS = 86_400_000;

/** What one stored chunk did, for the metrics of whoever hosts the writer (see TelemetryStore). */
export interface ChunkReport {
  /** Telemetry messages decoded from the chunk. */
  decoded: number;
  /** History rows written (copies not counted). */
  written: number;
  /** Messages stored at their receipt time because the device clock was outside the kept window. */
  clamped: number;
  /** Seconds from receipt by ingest to the commit, per message written or skipped. */
  lagsS: Float64Array;
}

export type HistoryWriterConfig = Pick<
  IotConfig,
  'KAFKA_TOPIC_PREFIX' | 'KAFKA_SESSION_TIMEOUT_MS' | 'IOT_HISTORY_RETENTION_DAYS'
>;

export interface HistoryWriterDeps {
  config: HistoryWriterConfig;
  kafka: Kafka;
  pool: Pool;
  outbox: Outbox;
  logger: Logger;
  report(chunk: ChunkReport): void;
}

/**
 * The consumer of citybase.iot.telemetry.v1 (docs/iot.md "State and history"): per chunk of up to
 * 2,000 messages, one transaction writes the history (one multi-row insert into the daily
 * partitions, copies skipped by the primary key), the latest value per metric, and presence
 * (lifecycle messages and activity through presence.domain.ts, PresenceChanged through the
 * outbox); the offsets are committed after it. Redelivered messages change nothing. Plain code
 * with its connections given: TelemetryStore runs it on a worker thread of its own or on the main
 * event loop (IOT_HISTORY_THREAD).
 */
export class HistoryWriter {
  private consumer?: Consumer;

  constructor(private readonly deps: HistoryWriterDeps) {}

  async start(): Promise<void> {
    const { config, kafka } = this.deps;
    const topic = config.KAFKA_TOPIC_PREFIX + IotEvents.TelemetryReported.topic;
    this.consumer = kafka.consumer({
      groupId: `${config.KAFKA_TOPIC_PREFIX}iot-telemetry-store`,
      sessionTimeout: config.KAFKA_SESSION_TIMEOUT_MS,
      maxWaitTimeInMs: 100,
      maxBytesPerPartition: 4 * 1024 * 1024,
    });
    await this.consumer.connect();
    await this.consumer.subscribe({ topic, fromBeginning: true });
    await this.consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      eachBatch: async ({
        batch,
        resolveOffset,
        heartbeat,
        commitOffsetsIfNecessary,
        isRunning,
        isStale,
      }) => {
        for (let i = 0; i < batch.messages.length; i += CHUNK) {
          if (!isRunning() || isStale()) return;
          const chunk = batch.messages.slice(i, i + CHUNK);
          await this.storeChunk(chunk);
          resolveOffset(chunk[chunk.length - 1]!.offset);
          await commitOffsetsIfNecessary({
            topics: [
              {
                topic: batch.topic,
                partitions: [
                  {
                    partition: batch.partition,
                    offset: (BigInt(chunk[chunk.length - 1]!.offset) + 1n).toString(),
                  },
                ],
              },
            ],
          });
          await heartbeat();
        }
      },
    });
  }

  async stop(): Promise<void> {
    await this.consumer?.disconnect();
  }

  /** One transaction for a chunk of messages, in offset order. */
  async storeChunk(messages: KafkaMessage[]): Promise<void> {
    const { config, pool, outbox, logger } = this.deps;
    const decoded: TelemetryReported[] = [];
    for (const m of messages) {
      const type = m.headers?.ce_type?.toString();
      if (type !== IotEvents.TelemetryReported.type || !m.value) continue;
      try {
        decoded.push(IotEvents.TelemetryReported.codec.decode(m.value));
      } catch (err) {
        logger.warn({ err, offset: m.offset }, 'undecodable telemetry message skipped');
      }
    }
    if (decoded.length === 0) {
      this.deps.report({ decoded: 0, written: 0, clamped: 0, lagsS: new Float64Array(0) });
      return;
    }
    const now = Date.now();
    const oldest = now - config.IOT_HISTORY_RETENTION_DAYS * DAY_MS;
    let clamped = 0;
    const rows: HistoryRow[] = [];
    const latest = new Map<string, { deviceId: string; metric: string; value: number; measuredAt: Date }>();
    const presenceInputs = new Map<string, PresenceInput[]>();
    for (const t of decoded) {
      const receivedAt = t.receivedAt ? fromTimestamp(t.receivedAt) : new Date(now);
      let measuredAt = t.occurredAt ? fromTimestamp(t.occurredAt) : receivedAt;
      if (measuredAt.getTime() < oldest || measuredAt.getTime() > now + DAY_MS) {
        clamped += 1;
        measuredAt = receivedAt;
      }
      const inputs = presenceInputs.get(t.deviceId) ?? [];
      presenceInputs.set(t.deviceId, inputs);
      if (t.channel === 'state') {
        inputs.push({
          kind: 'lifecycle',
          online: t.online,
          session: t.session,
          reason: t.reason,
          at: receivedAt,
        });
      } else {
        inputs.push({ kind: 'activity', at: receivedAt });
      }
      const readings: Record<string, number> = {};
      for (const r of t.readings) {
        readings[r.metric] = r.value;
        const key = `${t.deviceId}/${r.metric}`;
        const prev = latest.get(key);
        if (!prev || prev.measuredAt <= measuredAt)
          latest.set(key, { deviceId: t.deviceId, metric: r.metric, value: r.value, measuredAt });
      }
      rows.push({
        deviceId: t.deviceId,
        measuredAt,
        messageId: t.messageId,
        projectId: t.tenancy?.projectId ?? '',
        channel: t.channel,
        eventType: t.eventType,
        readings,
        receivedAt,
      });
    }
    const days = [...new Set(rows.map((r) => r.measuredAt.toISOString().slice(0, 10)))];
    const tenancyOf = new Map(decoded.map((t) => [t.deviceId, t.tenancy]));
    const written = await withTransaction(pool, async (client) => {
      await ensurePartitions(client, days);
      const n = await insertHistory(client, rows);
      await upsertState(client, [...latest.values()]);
      const current = await lockPresence(client, [...presenceInputs.keys()].sort());
      const updates: { deviceId: string; p: Presence; changed: boolean }[] = [];
      for (const [deviceId, inputs] of presenceInputs) {
        const before = current.get(deviceId);
        if (!before) continue; // not a registered device
        const after = inputs.reduce(applyPresence, before ?? INITIAL);
        const changed = after.version !== before.version;
        updates.push({ deviceId, p: after, changed });
        if (changed) {
          const tenancy = tenancyOf.get(deviceId);
          await outbox.enqueue(
            client,
            IotEvents.PresenceChanged,
            {
              deviceId,
              tenancy,
              online: after.online,
              version: after.version,
              reason: after.reason,
              occurredAt: toTimestamp(after.lastSeenAt ?? new Date()),
            },
            {
              key: deviceId,
              tenancy: { operatorId: tenancy?.operatorId, projectId: tenancy?.projectId },
            },
          );
        }
      }
      await savePresence(client, updates);
      return n;
    });
    const committed = Date.now();
    const lagsS = new Float64Array(rows.length);
    rows.forEach((r, i) => (lagsS[i] = (committed - r.receivedAt.getTime()) / 1000));
    this.deps.report({ decoded: decoded.length, written, clamped, lagsS });
  }
}
