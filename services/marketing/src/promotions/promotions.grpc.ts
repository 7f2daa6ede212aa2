import type { Metadata } from '@grpc/grpc-js';
import { Controller } from '@nestjs/common';
import { GrpcMethod } from '@nestjs/microservices';
import { claimsOf } from '@citybase/platform';
import {
  CreatePlacementRequest,
  CreatePlacementResponse,
  GetProjectFeedRequest,
  GetProjectFeedResponse,
  GetPromotionStatsRequest,
  GetPromotionStatsResponse,
  ListPromotionsRequest,
  ListPromotionsResponse,
  RecordInteractionsRequest,
  RecordInteractionsResponse,
  ReviewPromotionRequest,
  ReviewPromotionResponse,
  SubmitPromotionRequest,
  SubmitPromotionResponse,
} from '@citybase/contracts/citybase/marketing/v1/marketing';
import {
  impressionToken,
  toCreatePlacementCommand,
  toListPromotionsQuery,
  toProjectFeedQuery,
  toPromotionStatsQuery,
  toRecordInteractionsCommand,
  toReviewPromotionCommand,
  toSubmitPromotionCommand,
} from './promotions.domain';
import { placementToProto, promotionToProto, statsToProto } from './promotions.render';
import { PromotionsService, PromotionView } from './promotions.service';

const render = (v: PromotionView) => promotionToProto(v.promotion, v.reviews);

/** Transport adapter of the promotion board: proto in (validated), use case, proto out. */
@Controller()
export class PromotionsGrpc {
  constructor(private readonly promotions: PromotionsService) {}

  @GrpcMethod('MarketingService', 'submitPromotion')
  async submitPromotion(req: SubmitPromotionRequest, metadata: Metadata): Promise<SubmitPromotionResponse> {
    const cmd = toSubmitPromotionCommand(req);
    return { promotion: render(await this.promotions.submitPromotion(claimsOf(metadata), cmd)) };
  }

  @GrpcMethod('MarketingService', 'reviewPromotion')
  async reviewPromotion(req: ReviewPromotionRequest, metadata: Metadata): Promise<ReviewPromotionResponse> {
    const cmd = toReviewPromotionCommand(req);
    return { promotion: render(await this.promotions.reviewPromotion(claimsOf(metadata), cmd)) };
  }

  @GrpcMethod('MarketingService', 'listPromotions')
  async listPromotions(req: ListPromotionsRequest, metadata: Metadata): Promise<ListPromotionsResponse> {
    const q = toListPromotionsQuery(req);
    const { promotions, nextPageToken } = await this.promotions.listPromotions(claimsOf(metadata), q);
    return { promotions: promotions.map(render), page: { nextPageToken } };
  }

  @GrpcMethod('MarketingService', 'getProjectFeed')
  async getProjectFeed(req: GetProjectFeedRequest, metadata: Metadata): Promise<GetProjectFeedResponse> {
    const q = toProjectFeedQuery(req);
    const { promotions, nextPageToken } = await this.promotions.projectFeed(claimsOf(metadata), q);
    return {
      items: promotions.map((v) => ({
        promotion: render(v),
        impressionToken: impressionToken(v.promotion.promotion_id, q.projectId),
      })),
      page: { nextPageToken },
    };
  }

  @GrpcMethod('MarketingService', 'createPlacement')
  async createPlacement(req: CreatePlacementRequest, metadata: Metadata): Promise<CreatePlacementResponse> {
    const cmd = toCreatePlacementCommand(req);
    return { placement: placementToProto(await this.promotions.createPlacement(claimsOf(metadata), cmd)) };
  }

  @GrpcMethod('MarketingService', 'recordInteractions')
  async recordInteractions(
    req: RecordInteractionsRequest,
    metadata: Metadata,
  ): Promise<RecordInteractionsResponse> {
    const cmd = toRecordInteractionsCommand(req, new Date());
    return { recorded: await this.promotions.recordInteractions(claimsOf(metadata), cmd) };
  }

  @GrpcMethod('MarketingService', 'getPromotionStats')
  async getPromotionStats(
    req: GetPromotionStatsRequest,
    metadata: Metadata,
  ): Promise<GetPromotionStatsResponse> {
    const q = toPromotionStatsQuery(req);
    return { stats: (await this.promotions.promotionStats(claimsOf(metadata), q)).map(statsToProto) };
  }
}
