import { Inject, Injectable } from '@nestjs/common';
import type { Pool } from 'pg';
import { PG_POOL, withTransaction } from '@citybase/platform';

/** Advisory lock key of the fold: one pass at a time across replicas. */
const FOLD_LOCK = 0x64617461_01; // 'data' 1

/** What one fold pass did. */
export interface FoldResult {
  contributions: number;
}

/**
 * Folds rollup_pending into rollup_hour and rollup_day (and source_state) in one transaction:
 * the contributions it deletes are exactly the ones it adds, so each counts once however many
 * replicas run the job. A late fact's contribution lands in the hour and day of its occurred_at.
 */
@Injectable()
export class RollupStore {
  /** Bumped after each pass that folded something: the dashboard's cue to recompute. */
  version = 0;

  constructor(@Inject(PG_POOL) private readonly pool: Pool) {}

  async fold(limit = 50_000): Promise<FoldResult> {
    const folded = await withTransaction(this.pool, async (client) => {
      const { rows: lock } = await client.query<{ ok: boolean }>(
        'SELECT pg_try_advisory_xact_lock($1) AS ok',
        [FOLD_LOCK],
      );
      if (!lock[0]?.ok) return 0;
      const { rows } = await client.query<{ n: string }>(
        `WITH d AS (
           DELETE FROM rollup_pending WHERE id IN (SELECT id FROM rollup_pending ORDER BY id LIMIT $1)
           RETURNING *
         ), h AS (
           INSERT INTO rollup_hour AS r (bucket, operator_id, project_id, metric, channel, kind, currency, total, events, last_occurred_at)
           SELECT date_trunc('hour', occurred_at, 'UTC'), operator_id, project_id, metric, channel, kind, currency,
                  sum(total), count(*), max(occurred_at)
           FROM d GROUP BY 1, 2, 3, 4, 5, 6, 7
           ON CONFLICT (bucket, operator_id, project_id, metric, channel, kind, currency) DO UPDATE
             SET total = r.total + EXCLUDED.total, events = r.events + EXCLUDED.events,
                 last_occurred_at = GREATEST(r.last_occurred_at, EXCLUDED.last_occurred_at), updated_at = now()
         ), dd AS (
           INSERT INTO rollup_day AS r (bucket, operator_id, project_id, metric, channel, kind, currency, total, events, last_occurred_at)
           SELECT date_trunc('day', occurred_at, 'UTC'), operator_id, project_id, metric, channel, kind, currency,
                  sum(total), count(*), max(occurred_at)
           FROM d GROUP BY 1, 2, 3, 4, 5, 6, 7
           ON CONFLICT (bucket, operator_id, project_id, metric, channel, kind, currency) DO UPDATE
             SET total = r.total + EXCLUDED.total, events = r.events + EXCLUDED.events,
                 last_occurred_at = GREATEST(r.last_occurred_at, EXCLUDED.last_occurred_at), updated_at = now()
         ), s AS (
           INSERT INTO source_state AS s (source, facts, last_occurred_at, last_ingested_at)
           SELECT source, count(*), max(occurred_at), max(ingested_at) FROM d GROUP BY source
           ON CONFLICT (source) DO UPDATE
             SET facts = s.facts + EXCLUDED.facts,
                 last_occurred_at = GREATEST(s.last_occurred_at, EXCLUDED.last_occurred_at),
                 last_ingested_at = GREATEST(s.last_ingested_at, EXCLUDED.last_ingested_at)
         )
         SELECT count(*)::text AS n FROM d`,
        [limit],
      );
      return Number(rows[0]?.n ?? 0);
    });
    if (folded > 0) this.version++;
    return { contributions: folded };
  }

  /** Contributions not yet folded (tests wait for 0). */
  async pending(): Promise<number> {
    const { rows } = await this.pool.query<{ n: string }>('SELECT count(*)::text AS n FROM rollup_pending');
    return Number(rows[0]?.n ?? 0);
  }
}
