import { Module } from '@nestjs/common';
import { PromotionsGrpc } from './promotions.grpc';
import { PromotionsService } from './promotions.service';

/**
 * The community promotion board (docs/marketing.md "Promotion board"): SubmitPromotion,
 * ReviewPromotion, ListPromotions, GetProjectFeed, CreatePlacement, RecordInteractions,
 * GetPromotionStats.
 */
@Module({ controllers: [PromotionsGrpc], providers: [PromotionsService] })
export class PromotionsModule {}
