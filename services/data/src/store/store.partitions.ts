import { Inject, Injectable } from '@nestjs/common';
import type { Pool } from 'pg';
import { PG_POOL } from '@citybase/platform';

/** 'YYYY-MM-01' of the UTC month of `at`. */
export const monthOf = (at: Date): string => `${at.toISOString().slice(0, 7)}-01`;

/**
 * The monthly partitions of the fact tables (migration 0001: data_ensure_partitions). The ingest
 * asks for the month of each fact before it writes it; a month not yet known to exist is created
 * in a transaction of its own (DDL on the parent table must not wait inside an ingest transaction
 * that already holds a lock on it, so it runs with a short lock_timeout and the group is retried).
 */
@Injectable()
export class Partitions {
  private readonly known = new Set<string>();

  constructor(@Inject(PG_POOL) private readonly pool: Pool) {}

  async ensure(at: Date): Promise<void> {
    const month = monthOf(at);
    if (this.known.has(month)) return;
    await this.ensureRange(month, month);
  }

  async ensureRange(from: string, to: string): Promise<void> {
    const client = await this.pool.connect();
    try {
      await client.query(`SET lock_timeout = '2s'`);
      await client.query('SELECT data_ensure_partitions($1::date, $2::date)', [from, to]);
      await client.query('RESET lock_timeout');
    } finally {
      client.release();
    }
    for (let m = new Date(`${from}T00:00:00Z`); monthOf(m) <= to; m.setUTCMonth(m.getUTCMonth() + 1))
      this.known.add(monthOf(m));
  }

  /** Forgets dropped months (the retention job), so a late fact of one would create it again. */
  forget(month: string): void {
    this.known.delete(month);
  }
}
