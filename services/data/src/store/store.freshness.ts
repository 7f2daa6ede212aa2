import { Inject, Injectable } from '@nestjs/common';
import type { Pool } from 'pg';
import { Gauge, Registry } from 'prom-client';
import { METRICS_REGISTRY, PG_POOL } from '@citybase/platform';

/** The sources the store consumes, in the order the dashboard and GetFreshness list them. */
export const SOURCE_NAMES = ['identity', 'payment', 'settlement', 'points', 'marketing', 'iot'] as const;

export interface SourceState {
  source: string;
  facts: number;
  lastOccurredAt: Date | undefined;
  lastIngestedAt: Date | undefined;
}

/**
 * Freshness per source: how old the newest fact is (`data_source_freshness_seconds{source}`,
 * -1 before the first fact) and facts folded so far (`data_source_facts`). Consumer lag is the
 * platform's `kafka_consumer_lag{consumer="data.store.<source>"}`.
 */
@Injectable()
export class FreshnessService {
  private readonly age: Gauge<'source'>;
  private readonly facts: Gauge<'source'>;

  constructor(
    @Inject(PG_POOL) private readonly pool: Pool,
    @Inject(METRICS_REGISTRY) registry: Registry,
  ) {
    const gauge = (name: string, help: string) =>
      (registry.getSingleMetric(name) as Gauge<'source'> | undefined) ??
      new Gauge({ name, help, labelNames: ['source'], registers: [registry] });
    this.age = gauge(
      'data_source_freshness_seconds',
      'Age of the newest fact of each source in the store (-1: none yet)',
    );
    this.facts = gauge('data_source_facts', 'Facts of each source folded into the rollups');
  }

  async states(): Promise<SourceState[]> {
    const { rows } = await this.pool.query<{
      source: string;
      facts: string;
      last_occurred_at: Date | null;
      last_ingested_at: Date | null;
    }>('SELECT source, facts::text, last_occurred_at, last_ingested_at FROM source_state');
    const by = new Map(rows.map((r) => [r.source, r]));
    return SOURCE_NAMES.map((source) => {
      const r = by.get(source);
      return {
        source,
        facts: Number(r?.facts ?? 0),
        lastOccurredAt: r?.last_occurred_at ?? undefined,
        lastIngestedAt: r?.last_ingested_at ?? undefined,
      };
    });
  }

  /** Refreshes the gauges from source_state; answers the states. */
  async refresh(now = new Date()): Promise<SourceState[]> {
    const states = await this.states();
    for (const s of states) {
      this.age.set(
        { source: s.source },
        s.lastOccurredAt ? Math.max(0, (now.getTime() - s.lastOccurredAt.getTime()) / 1000) : -1,
      );
      this.facts.set({ source: s.source }, s.facts);
    }
    return states;
  }
}
