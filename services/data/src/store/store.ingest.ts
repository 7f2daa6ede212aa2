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

  /**
   * Bulk telemetry, aggregated before it is written (docs/data.md "iot's figures"): the group's
   * messages become one row per device and hour of the device's clock in telemetry_device_hour
   * (messages and readings added), and their rollup contributions (iot.telemetry_messages: the
   * messages; iot.telemetry_devices: 1 for a device's first message in an hour), in one statement.
   * The inbox has already taken each message once by its event id (derived from the device and its
   * message id), so a redelivered copy never reaches here. A device clock more than a day ahead
   * counts at its receipt time; older than the retention window: not stored.
   */
  async applyTelemetry(
    client: PoolClient,
    events: readonly {
      deviceId: string;
      operatorId: string;
      projectId: string;
      readings: number;
      occurredAt: Date | undefined;
      receivedAt: Date;
    }[],
  ): Promise<void> {
    const now = Date.now();
    const cutoff = retentionCutoff(new Date(now), this.config.DATA_RETENTION_MONTHS);
    const cells = new Map<
      string,
      {
        bucket: Date;
        deviceId: string;
        operatorId: string;
        projectId: string;
        messages: number;
        readings: number;
        last: Date;
      }
    >();
    for (const e of events) {
      let at = e.occurredAt ?? e.receivedAt;
      if (at.getTime() > now + 86_400_000) at = e.receivedAt;
      if (at < cutoff) {
        this.ingested.inc({ source: 'telemetry', outcome: 'too_old' });
        continue;
      }
      const bucket = new Date(Math.floor(at.getTime() / 3_600_000) * 3_600_000);
      const key = `${bucket.getTime()}/${e.deviceId}`;
      const c = cells.get(key);
      if (c) {
        c.messages++;
        c.readings += e.readings;
        if (at > c.last) c.last = at;
      } else
        cells.set(key, {
          bucket,
          deviceId: e.deviceId,
          operatorId: e.operatorId,
          projectId: e.projectId,
          messages: 1,
          readings: e.readings,
          last: at,
        });
    }
    if (cells.size === 0) return;
    const list = [...cells.values()].sort(
      (a, b) => a.bucket.getTime() - b.bucket.getTime() || a.deviceId.localeCompare(b.deviceId),
    );
    await client.query(
      `WITH v AS (
         SELECT * FROM unnest($1::timestamptz[], $2::text[], $3::text[], $4::text[], $5::bigint[], $6::bigint[], $7::timestamptz[])
           AS v(bucket, device_id, operator_id, project_id, messages, readings, last_occurred_at)
       ), u AS (
         INSERT INTO telemetry_device_hour AS t (bucket, device_id, operator_id, project_id, messages, readings, last_occurred_at)
         SELECT * FROM v
         ON CONFLICT (bucket, device_id) DO UPDATE
           SET messages = t.messages + EXCLUDED.messages, readings = t.readings + EXCLUDED.readings,
               last_occurred_at = GREATEST(t.last_occurred_at, EXCLUDED.last_occurred_at)
         RETURNING bucket, device_id, (xmax = 0) AS first
       )
       INSERT INTO rollup_pending (source, occurred_at, operator_id, project_id, metric, total)
       SELECT 'iot', v.last_occurred_at, v.operator_id, v.project_id, m.metric, m.total
       FROM v JOIN u USING (bucket, device_id)
       CROSS JOIN LATERAL (VALUES ('iot.telemetry_messages', v.messages), ('iot.telemetry_devices', CASE WHEN u.first THEN 1 ELSE 0 END)) AS m(metric, total)
       WHERE m.total > 0`,
      [
        list.map((c) => c.bucket),
        list.map((c) => c.deviceId),
        list.map((c) => c.operatorId),
        list.map((c) => c.projectId),
        list.map((c) => String(c.messages)),
        list.map((c) => String(c.readings)),
        list.map((c) => c.last),
      ],
    );
    this.ingested.inc({ source: 'telemetry', outcome: 'inserted' }, events.length);
  }
}
