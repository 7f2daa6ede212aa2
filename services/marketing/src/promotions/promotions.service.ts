import { Inject, Injectable } from '@nestjs/common';
import {
  assertTenancy,
  CitybaseClaims,
  Mutations,
  pageOf,
  PG_POOL,
  Pool,
  PoolClient,
  toTimestamp,
} from '@citybase/platform';
import { MarketingEvents } from '@citybase/contracts/events';
import {
  CreatePlacementCommand,
  decideReview,
  FEED_PAGE,
  ListPromotionsQuery,
  ProjectFeedQuery,
  PromotionStatsQuery,
  PROMOTIONS_PAGE,
  RecordInteractionsCommand,
  ReviewPromotionCommand,
  SubmitPromotionCommand,
} from './promotions.domain';
import { PromotionsErrors } from './promotions.errors';
import { promotionToProto } from './promotions.render';
import {
  endReview,
  findPlacement,
  findPromotion,
  findReviews,
  insertPlacement,
  insertPromotion,
  listFeed,
  listMerchantPromotions,
  listProjectPromotions,
  lockReview,
  PlacementRow,
  PromotionRow,
  recordInteractions,
  ReviewRow,
  StatsRow,
  statsOf,
} from './promotions.store';

/** A promotion with the reviews its reader may see (a merchant: all; a project: its own). */
export interface PromotionView {
  promotion: PromotionRow;
  reviews: ReviewRow[];
}

/**
 * The community promotion board (docs/marketing.md "Promotion board"): merchants submit promotions
 * for the projects of their operator, each target project's staff approve or reject once, residents
 * and entrance screens read what is approved and live, scenario apps host placements, and apps
 * report impressions and clicks (each counted once).
 */
@Injectable()
export class PromotionsService {
  constructor(
    @Inject(PG_POOL) private readonly pool: Pool,
    private readonly mutations: Mutations,
  ) {}

  async submitPromotion(claims: CitybaseClaims, cmd: SubmitPromotionCommand): Promise<PromotionView> {
    assertTenancy(claims, { operatorId: cmd.operatorId, projectId: cmd.projectId || undefined });
    const current = async ({ client, resourceId }: { client: PoolClient; resourceId: string }) =>
      this.view(client, resourceId, '');
    return this.mutations.run({
      method: 'MarketingService.SubmitPromotion',
      claims,
      requestId: cmd.requestId,
      command: cmd,
      execute: async (ctx) => {
        await insertPromotion(ctx.client, ctx.resourceId, cmd, claims.sub);
        const view = await current(ctx);
        ctx.note({ promotion_id: ctx.resourceId, merchant_id: cmd.merchantId, targets: cmd.targets.length });
        await ctx.emit(
          MarketingEvents.PromotionSubmitted,
          { promotion: promotionToProto(view.promotion, view.reviews), occurredAt: toTimestamp(new Date()) },
          { key: ctx.resourceId, subject: ctx.resourceId, tenancy: tenancyOf(view.promotion) },
        );
        return view;
      },
      replay: current,
    });
  }

  async reviewPromotion(claims: CitybaseClaims, cmd: ReviewPromotionCommand): Promise<PromotionView> {
    assertTenancy(claims, { operatorId: cmd.operatorId, projectId: cmd.projectId });
    const current = async ({ client }: { client: PoolClient }) =>
      this.view(client, cmd.promotionId, cmd.projectId);
    return this.mutations.run({
      method: 'MarketingService.ReviewPromotion',
      claims,
      requestId: cmd.requestId,
      command: cmd,
      resourceId: cmd.promotionId,
      target: {
        // another operator's promotion, or one the project is no target of, is not found
        load: async (client) => {
          const review = await lockReview(client, cmd.promotionId, cmd.projectId);
          return review?.operator_id === cmd.operatorId ? review : undefined;
        },
        tenancy: (r) => ({ operatorId: r.operator_id, projectId: r.project_id }),
        notFound: () => PromotionsErrors.notFound(cmd.promotionId),
      },
      execute: async (ctx) => {
        const decided = decideReview(ctx.target.status, cmd.decision);
        ctx.note({
          promotion_id: cmd.promotionId,
          project_id: cmd.projectId,
          decision: cmd.decision,
          decided,
        });
        if (decided === 'refuse') throw PromotionsErrors.alreadyReviewed(cmd.promotionId, ctx.target.status);
        if (decided === 'unchanged') return current(ctx);
        await endReview(ctx.client, {
          promotionId: cmd.promotionId,
          projectId: cmd.projectId,
          status: cmd.decision,
          reason: cmd.reason,
          reviewer: claims.sub,
        });
        const all = await this.view(ctx.client, cmd.promotionId, '');
        const promotion = promotionToProto(all.promotion, all.reviews);
        const occurredAt = toTimestamp(new Date());
        const opts = { key: cmd.promotionId, subject: cmd.promotionId, tenancy: tenancyOf(all.promotion) };
        if (cmd.decision === 'APPROVED')
          await ctx.emit(
            MarketingEvents.PromotionApproved,
            { promotion, projectId: cmd.projectId, occurredAt },
            opts,
          );
        else
          await ctx.emit(
            MarketingEvents.PromotionRejected,
            { promotion, projectId: cmd.projectId, reason: cmd.reason, occurredAt },
            opts,
          );
        return current(ctx);
      },
      replay: current,
    });
  }

  async listPromotions(
    claims: CitybaseClaims,
    q: ListPromotionsQuery,
  ): Promise<{ promotions: PromotionView[]; nextPageToken: string }> {
    assertTenancy(claims, { operatorId: q.operatorId, projectId: q.projectId || undefined });
    const merchant = q.merchantId !== '';
    const rows = merchant
      ? await listMerchantPromotions(this.pool, q)
      : await listProjectPromotions(this.pool, q);
    const { rows: page, nextPageToken } = pageOf(rows, q.size, PROMOTIONS_PAGE, (r) => [
      r.cursor_at,
      r.promotion_id,
    ]);
    // a merchant sees every project's review of its promotions; a project only its own
    const promotions = await this.withReviews(page, merchant ? '' : q.projectId);
    return { promotions, nextPageToken };
  }

  async projectFeed(
    claims: CitybaseClaims,
    q: ProjectFeedQuery,
  ): Promise<{ promotions: PromotionView[]; nextPageToken: string }> {
    assertTenancy(claims, { operatorId: q.operatorId, projectId: q.projectId });
    const rows = await listFeed(this.pool, q, new Date());
    if (q.kind === 'SCREEN')
      return { promotions: await this.withReviews(rows, q.projectId), nextPageToken: '' };
    const { rows: page, nextPageToken } = pageOf(rows, q.size, FEED_PAGE, (r) => [
      r.cursor_at,
      r.promotion_id,
    ]);
    return { promotions: await this.withReviews(page, q.projectId), nextPageToken };
  }

  async createPlacement(claims: CitybaseClaims, cmd: CreatePlacementCommand): Promise<PlacementRow> {
    assertTenancy(claims, { operatorId: cmd.operatorId, projectId: cmd.projectId });
    const current = async ({ client, resourceId }: { client: PoolClient; resourceId: string }) =>
      (await findPlacement(client, resourceId))!;
    return this.mutations.run({
      method: 'MarketingService.CreatePlacement',
      claims,
      requestId: cmd.requestId,
      command: cmd,
      execute: async (ctx) => {
        const promotion = await findPromotion(ctx.client, cmd.promotionId);
        if (promotion?.operator_id !== cmd.operatorId) throw PromotionsErrors.notFound(cmd.promotionId);
        // the host project must have approved the promotion (its residents see it there)
        const [review] = await findReviews(ctx.client, [cmd.promotionId], cmd.projectId);
        if (review?.status !== 'APPROVED') throw PromotionsErrors.notApproved(cmd.promotionId, cmd.projectId);
        ctx.note({ promotion_id: cmd.promotionId, project_id: cmd.projectId, slot: cmd.slot });
        return insertPlacement(ctx.client, ctx.resourceId, cmd, claims.sub);
      },
      replay: current,
    });
  }

  /** Counts a batch once per interaction id (one statement: insert and roll-up together). */
  async recordInteractions(claims: CitybaseClaims, cmd: RecordInteractionsCommand): Promise<number> {
    assertTenancy(claims, { operatorId: cmd.operatorId, projectId: cmd.projectId || undefined });
    for (const projectId of new Set(cmd.interactions.map((i) => i.projectId)))
      assertTenancy(claims, { operatorId: cmd.operatorId, projectId });
    return recordInteractions(this.pool, cmd.operatorId, cmd.interactions);
  }

  /** A merchant: every project's counts of its promotion; a project: its own; the operator: all. */
  async promotionStats(claims: CitybaseClaims, q: PromotionStatsQuery): Promise<StatsRow[]> {
    assertTenancy(claims, { operatorId: q.operatorId, projectId: q.projectId || undefined });
    const promotion = await findPromotion(this.pool, q.promotionId);
    if (
      promotion?.operator_id !== q.operatorId ||
      (q.merchantId !== '' && promotion.merchant_id !== q.merchantId)
    )
      throw PromotionsErrors.notFound(q.promotionId);
    const ownProject = q.merchantId === '' ? q.projectId : '';
    return statsOf(this.pool, q.promotionId, ownProject);
  }

  private async view(db: Pool | PoolClient, promotionId: string, projectId: string): Promise<PromotionView> {
    const promotion = await findPromotion(db, promotionId);
    if (!promotion) throw new Error(`promotion ${promotionId} of a committed request is missing`);
    return { promotion, reviews: await findReviews(db, [promotionId], projectId) };
  }

  private async withReviews(rows: PromotionRow[], projectId: string): Promise<PromotionView[]> {
    const reviews = await findReviews(
      this.pool,
      rows.map((r) => r.promotion_id),
      projectId,
    );
    return rows.map((promotion) => ({
      promotion,
      reviews: reviews.filter((r) => r.promotion_id === promotion.promotion_id),
    }));
  }
}

const tenancyOf = (p: PromotionRow) => ({
  operatorId: p.operator_id,
  projectId: p.project_id,
  merchantId: p.merchant_id,
});
