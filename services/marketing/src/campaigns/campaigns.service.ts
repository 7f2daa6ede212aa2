import { Inject, Injectable } from '@nestjs/common';
import {
  assertTenancy,
  CitybaseClaims,
  inTenancy,
  Mutations,
  pageOf,
  PG_POOL,
  Pool,
  PoolClient,
  tenancyFilter,
  toTimestamp,
} from '@citybase/platform';
import { MarketingEvents } from '@citybase/contracts/events';
import {
  CAMPAIGNS_PAGE,
  CreateCampaignCommand,
  decideUpdate,
  GetCampaignQuery,
  ListCampaignsQuery,
  UpdateCampaignCommand,
} from './campaigns.domain';
import { CampaignsErrors } from './campaigns.errors';
import { campaignToProto, STATUS_PROTO } from './campaigns.render';
import {
  CampaignRow,
  findCampaign,
  insertCampaign,
  listCampaigns,
  lockCampaign,
  updateCampaign,
} from './campaigns.store';

/** The tenancy a campaign belongs to, for inTenancy: its operator, and its project when it has one. */
export function campaignTenancy(r: Pick<CampaignRow, 'operator_id' | 'project_id'>) {
  return { operatorId: r.operator_id, ...(r.project_id !== '' && { projectId: r.project_id }) };
}

/** The request's tenancy the caller must be in (PERMISSION_DENIED before anything is read). */
export function requestTenancy(q: { operatorId: string; projectId: string }) {
  return { operatorId: q.operatorId, ...(q.projectId !== '' && { projectId: q.projectId }) };
}

/** A campaign is seen through a request naming its operator (and project, when the request names one). */
export function visibleThrough(
  r: CampaignRow,
  q: { operatorId: string; projectId: string },
  claims: CitybaseClaims,
) {
  return (
    r.operator_id === q.operatorId &&
    (q.projectId === '' || r.project_id === q.projectId) &&
    inTenancy(claims, campaignTenancy(r))
  );
}

/**
 * Campaigns (docs/marketing.md "Campaigns"): created in DRAFT, moved DRAFT > ACTIVE <> PAUSED >
 * ENDED, budgets never below what is claimed. The caller's tenancy is checked on the request's
 * tenancy before anything is read (PERMISSION_DENIED); a campaign outside it answers NOT_FOUND.
 */
@Injectable()
export class CampaignsService {
  constructor(
    @Inject(PG_POOL) private readonly pool: Pool,
    private readonly mutations: Mutations,
  ) {}

  async createCampaign(claims: CitybaseClaims, cmd: CreateCampaignCommand): Promise<CampaignRow> {
    assertTenancy(claims, requestTenancy(cmd));
    return this.mutations.run({
      method: 'MarketingService.CreateCampaign',
      claims,
      requestId: cmd.requestId,
      command: cmd,
      execute: async (ctx) => {
        const row = await insertCampaign(ctx.client, ctx.resourceId, cmd, claims.sub);
        ctx.note({ campaign_id: row.campaign_id, flash_sale: row.flash_sale });
        await ctx.emit(
          MarketingEvents.CampaignCreated,
          { campaign: campaignToProto(row), occurredAt: toTimestamp(row.created_at) },
          { key: row.campaign_id, tenancy: campaignTenancy(row) },
        );
        return row;
      },
      replay: ({ client, resourceId }) => this.current(client, resourceId),
    });
  }

  async updateCampaign(claims: CitybaseClaims, cmd: UpdateCampaignCommand): Promise<CampaignRow> {
    assertTenancy(claims, requestTenancy(cmd));
    return this.mutations.run({
      method: 'MarketingService.UpdateCampaign',
      claims,
      requestId: cmd.requestId,
      command: cmd,
      resourceId: cmd.campaignId,
      target: {
        load: async (client) => {
          const row = await lockCampaign(client, cmd.campaignId);
          return row && visibleThrough(row, cmd, claims) ? row : undefined;
        },
        tenancy: (row: CampaignRow) => campaignTenancy(row),
        notFound: () => CampaignsErrors.notFound(cmd.campaignId),
      },
      execute: async ({ client, target, emit, note }) => {
        const next = decideUpdate(
          {
            campaignId: target.campaign_id,
            status: target.status,
            currency: target.currency,
            claimed: target.claimed,
            claimedValue: target.claimed_value,
            claimUntil: target.claim_until,
            maxCoupons: target.max_coupons,
            maxSpend: target.max_spend,
          },
          cmd,
        );
        const row = await updateCampaign(client, target.campaign_id, next, claims.sub);
        note({ from: target.status, to: row.status });
        await emit(
          MarketingEvents.CampaignChanged,
          {
            campaign: campaignToProto(row),
            previousStatus: STATUS_PROTO[target.status],
            occurredAt: toTimestamp(row.updated_at),
          },
          { key: row.campaign_id, tenancy: campaignTenancy(row) },
        );
        return row;
      },
      replay: ({ client }) => this.current(client, cmd.campaignId),
    });
  }

  async getCampaign(claims: CitybaseClaims, q: GetCampaignQuery): Promise<CampaignRow> {
    assertTenancy(claims, requestTenancy(q));
    const row = await findCampaign(this.pool, q.campaignId);
    if (!row || !visibleThrough(row, q, claims)) throw CampaignsErrors.notFound(q.campaignId);
    return row;
  }

  async listCampaigns(
    claims: CitybaseClaims,
    q: ListCampaignsQuery,
  ): Promise<{ items: CampaignRow[]; nextPageToken: string }> {
    assertTenancy(claims, requestTenancy(q));
    const rows = await listCampaigns(this.pool, q, tenancyFilter(claims));
    const { rows: items, nextPageToken } = pageOf(rows, q.size, CAMPAIGNS_PAGE, (r) => [
      r.cursor_at,
      r.campaign_id,
    ]);
    return { items, nextPageToken };
  }

  /** The row a replay answers (rows are never deleted: one that was made or changed is there). */
  private async current(client: PoolClient, campaignId: string): Promise<CampaignRow> {
    const row = await findCampaign(client, campaignId);
    if (!row) throw new Error(`campaign ${campaignId} of a committed request is missing`);
    return row;
  }
}
