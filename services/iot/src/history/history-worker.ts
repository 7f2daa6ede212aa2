// The history writer on a worker thread of its own (IOT_HISTORY_THREAD=worker, the default), started
// by TelemetryStore from the built code: its own PostgreSQL pool and Kafka client, the same
// HistoryWriter; each chunk's report goes to the main thread, whose TelemetryStore owns the metrics.
import { workerData } from 'node:worker_threads';
import { createKafka, createLogger, createPool, runWorkerJob, serviceOutbox } from '@citybase/platform';
import type { IotConfig } from '../config';
import { ChunkReport, HistoryWriter } from './history-writer';

export interface HistoryWorkerData {
  config: IotConfig;
}

/** What the worker posts: one per stored chunk. */
export interface HistoryChunkMessage {
  chunk: ChunkReport;
}

runWorkerJob(async (post) => {
  const { config } = workerData as HistoryWorkerData;
  const logger = createLogger('iot', config.LOG_LEVEL).child({ thread: 'history' });
  // one transaction at a time; a second connection while a handed-over partition's chunk finishes
  const pool = createPool(config.DATABASE_URL, { max: 2, application_name: 'citybase-iot-history' });
  const writer = new HistoryWriter({
    config,
    kafka: createKafka({ clientId: `${config.CITY_ID}-iot-history`, brokers: config.KAFKA_BROKERS, logger }),
    pool,
    outbox: serviceOutbox({ city: config.CITY_ID, service: 'iot', topicPrefix: config.KAFKA_TOPIC_PREFIX }),
    logger,
    report: (chunk) => post({ chunk } satisfies HistoryChunkMessage, [chunk.lagsS.buffer as ArrayBuffer]),
  });
  await writer.start();
  return {
    async stop() {
      await writer.stop().catch((err) => logger.warn({ err }, 'history consumer did not stop cleanly'));
      await pool.end().catch(() => undefined);
    },
  };
});
