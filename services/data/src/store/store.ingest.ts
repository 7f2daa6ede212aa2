import { Inject, Injectable } from '@nestjs/common';
import type { PoolClient } from 'pg';
import { Counter, Registry } from 'prom-client';
import { LOGGER, Logger, METRICS_REGISTRY, SERVICE_CONFIG } from '@citybase/platform';
import type { DataConfig } from '../config';
import type { AnyFactSpec, FactLine } from './store.facts';
import { Partitions } from './store.partitions';

/** The first instant facts are still kept: the start of the month DATA_RETENTION_MONTHS - 1 months ago. */
export function retentionCutoff(now: Date, months: number): Date {
  return new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() - (months - 1), 1));
}

/**
 * Writes the facts of one event and their rollup contributions, inside the consumer's inbox
 * transaction (so an event applies once per event id, ADR 0004). Each fact line is keyed by
 * (event_id, line, occurred_at) and inserted ON CONFLICT DO NOTHING: only lines actually inserted
 * add their contributions to rollup_pending, in the same statement, so even a duplicate that the
 * inbox no longer remembers changes no rollup. A fact older than the retention window is not
 * stored (it would revive a dropped month).
 */
@Injectable()
export class IngestService {
  private readonly ingested: Counter<'source' | 'outcome'>;

  constructor(
    private readonly partitions: Partitions,
    @Inject(SERVICE_CONFIG) private readonly config: DataConfig,
    @Inject(METRICS_REGISTRY) registry: Registry,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {
    this.ingested =
      (registry.getSingleMetric('data_ingest_facts_total') as Counter<'source' | 'outcome'> | undefined) ??
      new Counter({
        name: 'data_ingest_facts_total',
        help: 'Fact lines the analytical store was given, by source and outcome (inserted, duplicate, too_old)',
        labelNames: ['source', 'outcome'],
        registers: [registry],
      });
  }

  async apply(
    client: PoolClient,
    source: string,
    spec: AnyFactSpec,
    event: unknown,
    eventId: string,
    fallbackAt: Date,
  ): Promise<void> {
    const lines = spec.facts(event, fallbackAt);
    const cutoff = retentionCutoff(new Date(), this.config.DATA_RETENTION_MONTHS);
    for (const [i, l] of lines.entries()) {
      if (l.occurredAt < cutoff) {
        this.ingested.inc({ source, outcome: 'too_old' });
        this.logger.warn(
          { source, eventId, occurredAt: l.occurredAt },
          'fact older than the retention window; not stored',
        );
        continue;
      }
      await this.partitions.ensure(l.occurredAt);
      const inserted = await this.insert(client, source, eventId, i, l);
      this.ingested.inc({ source, outcome: inserted ? 'inserted' : 'duplicate' });
    }
  }

  /** One round trip: the fact line and, if it was new, its contributions. */
  private async insert(
    client: PoolClient,
    source: string,
    eventId: string,
    lineNo: number,
    l: FactLine,
  ): Promise<boolean> {
    const cols = Object.keys(l.columns);
    const values: unknown[] = [
      eventId,
      lineNo,
      l.occurredAt,
      l.operatorId,
      l.projectId,
      ...cols.map((c) => l.columns[c]),
    ];
    const p = values.length;
    const c = l.contributions;
    values.push(
      c.map((x) => x.metric),
      c.map((x) => x.channel ?? ''),
      c.map((x) => x.kind ?? ''),
      c.map((x) => x.currency ?? ''),
      c.map((x) => x.total.toString()),
      source,
    );
    const { rowCount } = await client.query(
      `WITH f AS (
         INSERT INTO ${l.table} (event_id, line, occurred_at, operator_id, project_id, ${cols.join(', ')}, district)
         VALUES ($1, $2, $3, $4, $5, ${cols.map((_, i) => `$${i + 6}`).join(', ')},
                 (SELECT district FROM dim_project WHERE project_id = $5))
         ON CONFLICT DO NOTHING
         RETURNING occurred_at, operator_id, project_id
       )
       INSERT INTO rollup_pending (source, occurred_at, operator_id, project_id, metric, channel, kind, currency, total)
       SELECT $${p + 6}, f.occurred_at, f.operator_id, f.project_id, c.metric, c.channel, c.kind, c.currency, c.total
       FROM f CROSS JOIN unnest($${p + 1}::text[], $${p + 2}::text[], $${p + 3}::text[], $${p + 4}::text[], $${p + 5}::bigint[])
         AS c(metric, channel, kind, currency, total)`,
      values,
    );
    // a line without contributions inserts no pending row either way: look at the fact itself
    if (c.length > 0) return (rowCount ?? 0) > 0;
    const { rowCount: exists } = await client.query(
      `SELECT 1 FROM ${l.table} WHERE event_id = $1 AND line = $2 AND occurred_at = $3 AND ingested_at = now()`,
      [eventId, lineNo, l.occurredAt],
    );
    return (exists ?? 0) > 0;
  }
}
