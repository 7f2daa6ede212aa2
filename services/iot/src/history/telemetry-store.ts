import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { Inject, Injectable, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import type { Kafka } from 'kafkajs';
import { Counter, Histogram, Registry } from 'prom-client';
import {
  KAFKA,
  LOGGER,
  Logger,
  METRICS_REGISTRY,
  OUTBOX,
  Outbox,
  PG_POOL,
  Pool,
  SERVICE_CONFIG,
  SupervisedWorker,
} from '@citybase/platform';
import type { IotConfig } from '../config';
import type { HistoryChunkMessage, HistoryWorkerData } from './history-worker';
import { ChunkReport, HistoryWriter } from './history-writer';

/**
 * State and history (docs/iot.md "State and history"): hosts the HistoryWriter, the consumer that
 * stores citybase.iot.telemetry.v1, and owns its metrics. IOT_HISTORY_THREAD=worker (the default)
 * runs it on a worker thread of its own, so storing uses the machine's second core while ingest
 * keeps the main event loop (under a backlog the two shared one loop and storing waited for ingest:
 * docs/iot.md "Measured"); `main` runs it on the main event loop (the in-process test harness, which
 * runs the TypeScript sources, has no built worker file to start).
 */
@Injectable()
export class TelemetryStore implements OnApplicationBootstrap, OnApplicationShutdown {
  private inline?: HistoryWriter;
  private worker?: SupervisedWorker;
  private readonly stored: Counter;
  private readonly chunkSize: Histogram;
  private readonly storeLag: Histogram;
  private readonly clamped: Counter;
  private readonly workerRestarts: Counter;

  constructor(
    @Inject(SERVICE_CONFIG) private readonly config: IotConfig,
    @Inject(KAFKA) private readonly kafka: Kafka,
    @Inject(PG_POOL) private readonly pool: Pool,
    @Inject(OUTBOX) private readonly outbox: Outbox,
    @Inject(LOGGER) private readonly logger: Logger,
    @Inject(METRICS_REGISTRY) registry: Registry,
  ) {
    this.stored = new Counter({
      name: 'iot_history_rows_total',
      help: 'Telemetry history rows written (copies not counted)',
      registers: [registry],
    });
    this.chunkSize = new Histogram({
      name: 'iot_history_batch_size',
      help: 'Messages per history transaction',
      buckets: [1, 10, 100, 500, 1000, 2000],
      registers: [registry],
    });
    this.storeLag = new Histogram({
      name: 'iot_history_lag_seconds',
      help: 'From receipt by ingest to the history row committed',
      buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers: [registry],
    });
    this.clamped = new Counter({
      name: 'iot_history_clock_clamped_total',
      help: 'Messages whose device clock was outside the kept window: stored at their receipt time',
      registers: [registry],
    });
    this.workerRestarts = new Counter({
      name: 'iot_history_worker_restarts_total',
      help: 'Times the history worker thread died and was started again',
      registers: [registry],
    });
  }

  async onApplicationBootstrap(): Promise<void> {
    if (this.config.IOT_HISTORY_THREAD === 'worker') {
      const workerData: HistoryWorkerData = { config: this.config };
      this.worker = new SupervisedWorker({
        name: 'history',
        spawn: () => new Worker(join(__dirname, 'history-worker.js'), { workerData }),
        onMessage: (m) => this.record((m as HistoryChunkMessage).chunk),
        logger: this.logger,
        // telemetry waits in Kafka meanwhile: nothing is lost, history and presence fall behind
        onRestart: () => this.workerRestarts.inc(),
      });
      await this.worker.start();
      return;
    }
    this.inline = new HistoryWriter({
      config: this.config,
      kafka: this.kafka,
      pool: this.pool,
      outbox: this.outbox,
      logger: this.logger,
      report: (r) => this.record(r),
    });
    await this.inline.start();
  }

  async onApplicationShutdown(): Promise<void> {
    await this.inline?.stop();
    await this.worker?.stop();
  }

  private record(r: ChunkReport): void {
    this.chunkSize.observe(r.decoded);
    if (r.clamped > 0) this.clamped.inc(r.clamped);
    if (r.written > 0) this.stored.inc(r.written);
    for (const s of r.lagsS) this.storeLag.observe(s);
  }
}
