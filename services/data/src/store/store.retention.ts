import { Inject, Injectable } from '@nestjs/common';
import type { Pool } from 'pg';
import { LOGGER, Logger, PG_POOL, SERVICE_CONFIG } from '@citybase/platform';
import type { DataConfig } from '../config';
import { retentionCutoff } from './store.ingest';
import { monthOf, Partitions } from './store.partitions';

export interface RetentionResult {
  droppedPartitions: string[];
  hourlyRowsDeleted: number;
  dailyRowsDeleted: number;
}

/**
 * Retention (docs/data.md "Retention"): drops every monthly fact partition that ends before the
 * cutoff (the start of the month DATA_RETENTION_MONTHS - 1 months back), deletes hourly rollups
 * before the cutoff and daily rollups older than DATA_DAILY_ROLLUP_RETENTION_DAYS, and creates the
 * partitions of this month and the next two ahead of time.
 */
@Injectable()
export class RetentionService {
  constructor(
    @Inject(PG_POOL) private readonly pool: Pool,
    @Inject(SERVICE_CONFIG) private readonly config: DataConfig,
    private readonly partitions: Partitions,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  async run(now = new Date()): Promise<RetentionResult> {
    const cutoff = retentionCutoff(now, this.config.DATA_RETENTION_MONTHS);
    const { rows } = await this.pool.query<{ name: string; upper: Date }>(
      `SELECT c.relname AS name,
              (regexp_match(pg_get_expr(c.relpartbound, c.oid), 'TO \\(''([^'']+)''\\)'))[1]::timestamptz AS upper
       FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_class p ON p.oid = i.inhparent
       WHERE p.relname LIKE 'fact\\_%' AND c.relkind = 'r'`,
    );
    const dropped: string[] = [];
    for (const r of rows.filter((x) => x.upper <= cutoff).sort((a, b) => a.name.localeCompare(b.name))) {
      await this.pool.query(`DROP TABLE IF EXISTS "${r.name.replace(/"/g, '')}"`);
      dropped.push(r.name);
      const m = /_(\d{4})(\d{2})$/.exec(r.name);
      if (m) this.partitions.forget(`${m[1]}-${m[2]}-01`);
    }
    const hourly = await this.pool.query('DELETE FROM rollup_hour WHERE bucket < $1', [cutoff]);
    // telemetry's per-device hours are kept as long as the facts
    await this.pool.query('DELETE FROM telemetry_device_hour WHERE bucket < $1', [cutoff]);
    const daily = await this.pool.query(
      `DELETE FROM rollup_day WHERE bucket < $1::timestamptz - make_interval(days => $2)`,
      [now, this.config.DATA_DAILY_ROLLUP_RETENTION_DAYS],
    );
    const ahead = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 2, 1));
    await this.partitions.ensureRange(monthOf(now), monthOf(ahead));
    const result = {
      droppedPartitions: dropped,
      hourlyRowsDeleted: hourly.rowCount ?? 0,
      dailyRowsDeleted: daily.rowCount ?? 0,
    };
    if (dropped.length > 0 || result.hourlyRowsDeleted > 0 || result.dailyRowsDeleted > 0)
      this.logger.info({ ...result, cutoff }, 'retention: old facts and rollups removed');
    return result;
  }
}
