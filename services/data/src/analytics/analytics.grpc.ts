import type { Metadata } from '@grpc/grpc-js';
import { Controller } from '@nestjs/common';
import { GrpcMethod } from '@nestjs/microservices';
import { claimsOf, DomainError, requiredTimestamp, toTimestamp } from '@citybase/platform';
import {
  GetDashboardRequest,
  GetDashboardResponse,
  GetFreshnessRequest,
  GetFreshnessResponse,
  Granularity,
  ListRollupsRequest,
  ListRollupsResponse,
} from '@citybase/contracts/citybase/data/v1/analytics';
import { AnalyticsService, DashboardModel, toScope } from './analytics.service';

const DAY_MS = 86_400_000;

/** Transport adapter of the analytical store's reads (docs/data.md "AnalyticsService"). */
@Controller()
export class AnalyticsGrpc {
  constructor(private readonly analytics: AnalyticsService) {}

  @GrpcMethod('AnalyticsService', 'getDashboard')
  async getDashboard(req: GetDashboardRequest, metadata: Metadata): Promise<GetDashboardResponse> {
    return dashboardToProto(await this.analytics.dashboard(claimsOf(metadata), toScope(req.scope)));
  }

  @GrpcMethod('AnalyticsService', 'getFreshness')
  async getFreshness(req: GetFreshnessRequest, metadata: Metadata): Promise<GetFreshnessResponse> {
    const now = Date.now();
    const sources = await this.analytics.sources(claimsOf(metadata), toScope(req.scope));
    return {
      sources: sources.map((s) => ({
        source: s.source,
        lastOccurredAt: s.lastOccurredAt ? toTimestamp(s.lastOccurredAt) : undefined,
        lastIngestedAt: s.lastIngestedAt ? toTimestamp(s.lastIngestedAt) : undefined,
        ageSeconds: s.lastOccurredAt
          ? BigInt(Math.max(0, Math.floor((now - s.lastOccurredAt.getTime()) / 1000)))
          : 0n,
      })),
    };
  }

  @GrpcMethod('AnalyticsService', 'listRollups')
  async listRollups(req: ListRollupsRequest, metadata: Metadata): Promise<ListRollupsResponse> {
    const scope = toScope(req.scope);
    if (req.granularity !== Granularity.GRANULARITY_HOUR && req.granularity !== Granularity.GRANULARITY_DAY)
      throw DomainError.invalid('granularity', 'must be GRANULARITY_HOUR or GRANULARITY_DAY');
    const daily = req.granularity === Granularity.GRANULARITY_DAY;
    const from = requiredTimestamp('from', req.from);
    const to = requiredTimestamp('to', req.to);
    if (to <= from) throw DomainError.invalid('to', 'must be after from');
    const maxDays = daily ? 400 : 31;
    if (to.getTime() - from.getTime() > maxDays * DAY_MS)
      throw DomainError.invalid(
        'to',
        `must be at most ${maxDays} days after from for ${daily ? 'daily' : 'hourly'} rows`,
      );
    const metric = (req.metric ?? '').trim();
    if (metric.length > 64 || (metric !== '' && !/^[a-z_]+\.[a-z_]+$/.test(metric)))
      throw DomainError.invalid('metric', 'must be empty or a metric name such as payment.succeeded');
    const { rows, nextPageToken } = await this.analytics.rollups(claimsOf(metadata), {
      scope,
      metric,
      daily,
      from,
      to,
      page: req.page,
    });
    return {
      rows: rows.map((r) => ({ ...r, bucket: toTimestamp(r.bucket) })),
      page: { nextPageToken },
    };
  }
}

export function dashboardToProto(d: DashboardModel): GetDashboardResponse {
  return {
    since: toTimestamp(d.since),
    generatedAt: toTimestamp(d.generatedAt),
    panels: d.panels.map((p) => ({
      panelId: p.panelId,
      title: p.title,
      figures: p.figures,
      series: p.series.map((s) => ({
        ...s,
        points: s.points.map((x) => ({ bucket: toTimestamp(x.bucket), value: x.value })),
      })),
      lastOccurredAt: p.lastOccurredAt ? toTimestamp(p.lastOccurredAt) : undefined,
    })),
  };
}
