import { Inject, Injectable, OnApplicationBootstrap, OnModuleDestroy } from '@nestjs/common';
import type { Pool } from 'pg';
import { Gauge, Registry } from 'prom-client';
import {
  CitybaseClaims,
  LOGGER,
  Logger,
  METRICS_REGISTRY,
  PG_POOL,
  SERVICE_CONFIG,
} from '@citybase/platform';
import type { DataConfig } from '../config';
import { AnalyticsService, DashboardModel, PanelModel, Scope } from '../analytics/analytics.service';

/** A dashboard panel as JSON (bigint as decimal strings, times as ISO strings). */
export type PanelJson = Record<string, unknown>;

export function panelJson(p: PanelModel): PanelJson {
  return {
    panelId: p.panelId,
    title: p.title,
    lastOccurredAt: p.lastOccurredAt?.toISOString() ?? null,
    figures: p.figures.map((f) => ({ ...f, value: f.value.toString() })),
    series: p.series.map((s) => ({
      ...s,
      points: s.points.map((x) => ({ bucket: x.bucket.toISOString(), value: x.value.toString() })),
    })),
  };
}

export function dashboardJson(d: DashboardModel): Record<string, unknown> {
  return {
    since: d.since.toISOString(),
    generatedAt: d.generatedAt.toISOString(),
    panels: d.panels.map(panelJson),
  };
}

/** One open server-sent-events stream. */
export interface Connection {
  claims: CitybaseClaims;
  scope: Scope;
  /** Writes one SSE message; false once the client is gone. */
  send(event: string, id: string, data: unknown): boolean;
  close(): void;
  /** Panels as last sent, by id (JSON text), to send only what changed. */
  sent: Map<string, string>;
}

/**
 * Live updates of the dashboard (docs/data.md "Dashboard"): every DATA_DASHBOARD_MIN_INTERVAL_MS it
 * looks whether any rollup changed (max(updated_at), from whichever replica folded); if so it
 * recomputes each connection's panels (once per distinct tenancy and scope) and sends the panels
 * that differ from what that connection last got (`delta`). A connection gets a full `snapshot`
 * when it opens, so a reconnecting EventSource (Last-Event-ID or not) resumes from the current
 * state. Each panel changes at most once per interval (default 700 ms: under 1.5 updates/s).
 */
@Injectable()
export class DashboardHub implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly connections = new Set<Connection>();
  private timer: NodeJS.Timeout | undefined;
  private lastChange = '';
  private version = 0;
  private ticking: Promise<void> | undefined;
  private readonly open: Gauge;

  constructor(
    @Inject(PG_POOL) private readonly pool: Pool,
    @Inject(SERVICE_CONFIG) private readonly config: DataConfig,
    @Inject(LOGGER) private readonly logger: Logger,
    @Inject(METRICS_REGISTRY) registry: Registry,
    private readonly analytics: AnalyticsService,
  ) {
    this.open =
      (registry.getSingleMetric('data_dashboard_connections') as Gauge | undefined) ??
      new Gauge({
        name: 'data_dashboard_connections',
        help: 'Open dashboard event streams',
        registers: [registry],
      });
  }

  onApplicationBootstrap(): void {
    const tick = () => {
      this.ticking = this.tick()
        .catch((err: unknown) => this.logger.warn({ err }, 'dashboard update failed'))
        .finally(() => {
          this.ticking = undefined;
          if (this.timer !== undefined)
            this.timer = setTimeout(tick, this.config.DATA_DASHBOARD_MIN_INTERVAL_MS);
        });
    };
    this.timer = setTimeout(tick, this.config.DATA_DASHBOARD_MIN_INTERVAL_MS);
  }

  async onModuleDestroy(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    for (const c of this.connections) c.close();
    this.connections.clear();
    await this.ticking;
  }

  /** Sends the snapshot and keeps the connection for deltas. */
  async connect(c: Connection): Promise<void> {
    const model = await this.analytics.dashboard(c.claims, c.scope);
    const json = dashboardJson(model);
    for (const p of json.panels as PanelJson[]) c.sent.set(p.panelId as string, JSON.stringify(p));
    c.send('snapshot', String(this.version), json);
    this.connections.add(c);
    this.open.set(this.connections.size);
  }

  disconnect(c: Connection): void {
    this.connections.delete(c);
    this.open.set(this.connections.size);
  }

  private async tick(): Promise<void> {
    if (this.connections.size === 0) return;
    const now = Date.now();
    for (const c of [...this.connections]) {
      if (c.claims.exp * 1000 <= now) {
        c.send('expired', String(this.version), { reason: 'the session token expired; sign in again' });
        c.close();
        this.disconnect(c);
      }
    }
    const { rows } = await this.pool.query<{ at: string | null; pending: boolean }>(
      `SELECT (SELECT max(updated_at) FROM rollup_hour)::text AS at`,
    );
    const change = rows[0]?.at ?? '';
    if (change === this.lastChange) return;
    this.lastChange = change;
    this.version++;
    const byKey = new Map<string, Promise<DashboardModel>>();
    for (const c of [...this.connections]) {
      const key = JSON.stringify([c.claims.scope, c.claims.tenancy, c.scope]);
      let model = byKey.get(key);
      if (!model) {
        model = this.analytics.dashboard(c.claims, c.scope);
        byKey.set(key, model);
      }
      const panels = (dashboardJson(await model).panels as PanelJson[]).filter((p) => {
        const text = JSON.stringify(p);
        if (c.sent.get(p.panelId as string) === text) return false;
        c.sent.set(p.panelId as string, text);
        return true;
      });
      if (panels.length === 0) continue;
      if (!c.send('delta', String(this.version), { generatedAt: new Date().toISOString(), panels }))
        this.disconnect(c);
    }
  }
}
