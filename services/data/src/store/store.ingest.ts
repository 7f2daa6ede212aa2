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

/** A fact line with the key it is stored under. */
interface Keyed {
  eventId: string;
  line: number;
  fact: FactLine;
}

/**
 * Writes the facts of events and their rollup contributions, inside the consumer's inbox
 * transaction (so an event applies once per event id, ADR 0004), many events per statement. Each
 * fact line is keyed by (event_id, line, occurred_at) and inserted ON CONFLICT DO NOTHING: only
 * lines actually inserted add their contributions to rollup_pending, in the same statement, so
 * even a duplicate that the inbox no longer remembers changes no rollup. A fact older than the
 * retention window is not stored (it would revive a dropped month).
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

  /**
   * Writes the facts of consecutive events of one type (a group the inbox consumer applies in one
   * transaction): one multi-row statement per fact table.
   */
  async applyGroup(
    client: PoolClient,
    source: string,
    spec: AnyFactSpec,
    events: readonly { event: unknown; eventId: string; fallbackAt: Date }[],
  ): Promise<void> {
    const cutoff = retentionCutoff(new Date(), this.config.DATA_RETENTION_MONTHS);
    const byTable = new Map<string, Keyed[]>();
    const seen = new Set<string>();
    for (const e of events) {
      for (const [i, l] of spec.facts(e.event, e.fallbackAt).entries()) {
        const key = `${e.eventId}/${i}`;
        if (seen.has(key)) continue; // the same event twice in one group: once
        seen.add(key);
        if (l.occurredAt < cutoff) {
          this.ingested.inc({ source, outcome: 'too_old' });
          this.logger.warn(
            { source, eventId: e.eventId, occurredAt: l.occurredAt },
            'fact older than the retention window; not stored',
          );
          continue;
        }
        await this.partitions.ensure(l.occurredAt);
        const list = byTable.get(l.table) ?? [];
        list.push({ eventId: e.eventId, line: i, fact: l });
        byTable.set(l.table, list);
      }
    }
    for (const [table, lines] of byTable) {
      const inserted = await this.insert(client, source, table, lines);
      if (inserted > 0) this.ingested.inc({ source, outcome: 'inserted' }, inserted);
      if (lines.length > inserted)
        this.ingested.inc({ source, outcome: 'duplicate' }, lines.length - inserted);
    }
  }

  /**
   * One round trip: the fact lines of one table and, for those that were new, their
   * contributions. Answers how many lines were new.
   */
  private async insert(client: PoolClient, source: string, table: string, lines: Keyed[]): Promise<number> {
    const cols = Object.keys(lines[0]!.fact.columns);
    const params: unknown[] = [];
    const p = (v: unknown, cast: string) => {
      params.push(v);
      return `$${params.length}::${cast}`;
    };
    const castOf = (v: unknown) =>
      typeof v === 'bigint' ? 'bigint' : typeof v === 'number' ? 'double precision' : 'text';
    const rows = lines.map(
      ({ eventId, line, fact }) =>
        `(${[
          p(eventId, 'uuid'),
          p(line, 'smallint'),
          p(fact.occurredAt, 'timestamptz'),
          p(fact.operatorId, 'text'),
          p(fact.projectId, 'text'),
          ...cols.map((c) => p(fact.columns[c], castOf(fact.columns[c]))),
        ].join(', ')})`,
    );
    const contributions = lines.flatMap(({ eventId, line, fact }) =>
      fact.contributions.map((c) => ({ eventId, line, c })),
    );
    const arrays = [
      p(
        contributions.map((x) => x.eventId),
        'uuid[]',
      ),
      p(
        contributions.map((x) => x.line),
        'smallint[]',
      ),
      p(
        contributions.map((x) => x.c.metric),
        'text[]',
      ),
      p(
        contributions.map((x) => x.c.channel ?? ''),
        'text[]',
      ),
      p(
        contributions.map((x) => x.c.kind ?? ''),
        'text[]',
      ),
      p(
        contributions.map((x) => x.c.currency ?? ''),
        'text[]',
      ),
      p(
        contributions.map((x) => x.c.total.toString()),
        'bigint[]',
      ),
    ];
    const src = p(source, 'text');
    const { rows: result } = await client.query<{ n: number }>(
      `WITH v (event_id, line, occurred_at, operator_id, project_id, ${cols.join(', ')}) AS (VALUES ${rows.join(', ')}),
       f AS (
         INSERT INTO ${table} (event_id, line, occurred_at, operator_id, project_id, ${cols.join(', ')}, district)
         SELECT v.*, (SELECT d.district FROM dim_project d WHERE d.project_id = v.project_id) FROM v
         ON CONFLICT DO NOTHING
         RETURNING event_id, line, occurred_at, operator_id, project_id
       ),
       c AS (
         INSERT INTO rollup_pending (source, occurred_at, operator_id, project_id, metric, channel, kind, currency, total)
         SELECT ${src}, f.occurred_at, f.operator_id, f.project_id, c.metric, c.channel, c.kind, c.currency, c.total
         FROM f JOIN unnest(${arrays.join(', ')}) AS c(event_id, line, metric, channel, kind, currency, total)
           ON c.event_id = f.event_id AND c.line = f.line
       )
       SELECT count(*)::int AS n FROM f`,
      params,
    );
    return result[0]?.n ?? 0;
  }
}
