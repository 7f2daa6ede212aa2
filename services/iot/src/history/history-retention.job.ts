import { Inject, Injectable } from '@nestjs/common';
import { Logger, LOGGER, PeriodicJob, PG_POOL, Pool, SERVICE_CONFIG } from '@citybase/platform';
import type { IotConfig } from '../config';

const DAY_MS = 86_400_000;

/**
 * Keeps the daily partitions of telemetry_history (docs/iot.md "State and history"): makes those
 * of today and the next two days ahead of the writers, and drops whole partitions whose day ended
 * more than IOT_HISTORY_RETENTION_DAYS ago (a DROP, not a DELETE: no bloat, no long scans).
 */
@Injectable()
export class HistoryRetentionJob extends PeriodicJob {
  constructor(
    @Inject(LOGGER) private readonly logger: Logger,
    @Inject(SERVICE_CONFIG) private readonly config: IotConfig,
    @Inject(PG_POOL) private readonly pool: Pool,
  ) {
    super({
      name: 'iot history retention',
      intervalMs: config.IOT_HISTORY_JOB_INTERVAL_MS,
      logger,
      maxBackoffMs: 60_000,
    });
  }

  async runOnce(): Promise<void> {
    await this.retain(new Date());
  }

  /** One pass as of `now`; answers the partitions dropped. */
  async retain(now: Date): Promise<string[]> {
    const days = [0, 1, 2].map((d) => new Date(now.getTime() + d * DAY_MS).toISOString().slice(0, 10));
    await this.pool.query('SELECT iot_history_partition(d::date) FROM unnest($1::text[]) AS d', [days]);
    const cutoff = new Date(now.getTime() - this.config.IOT_HISTORY_RETENTION_DAYS * DAY_MS)
      .toISOString()
      .slice(0, 10)
      .replace(/-/g, '');
    const { rows } = await this.pool.query<{ name: string }>(
      `SELECT c.relname AS name FROM pg_inherits i
         JOIN pg_class c ON c.oid = i.inhrelid
         JOIN pg_class p ON p.oid = i.inhparent
        WHERE p.relname = 'telemetry_history' AND c.relname ~ '^telemetry_history_[0-9]{8}$'`,
    );
    const dropped: string[] = [];
    for (const { name } of rows) {
      // the partition of day D holds D's rows: dropped once D is before the cutoff day
      if (name.slice(-8) >= cutoff) continue;
      await this.pool.query(`DROP TABLE IF EXISTS "${name}"`);
      dropped.push(name);
    }
    if (dropped.length > 0) this.logger.info({ dropped }, 'telemetry history partitions dropped');
    return dropped;
  }
}
