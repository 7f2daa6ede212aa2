import type { Metadata } from '@grpc/grpc-js';
import { Controller } from '@nestjs/common';
import { GrpcMethod } from '@nestjs/microservices';
import { claimsOf, toTimestamp } from '@citybase/platform';
import {
  CancelCouponReservationRequest,
  CancelCouponReservationResponse,
  ConfirmCouponReservationRequest,
  ConfirmCouponReservationResponse,
  GetTokenKeysResponse,
  IssueRedemptionTokenRequest,
  IssueRedemptionTokenResponse,
  QuoteDiscountRequest,
  QuoteDiscountResponse,
  RedeemTokenRequest,
  RedeemTokenResponse,
  ReserveCouponRequest,
  ReserveCouponResponse,
} from '@citybase/contracts/citybase/marketing/v1/marketing';
import {
  toEndRedemptionCommand,
  toIssueTokenCommand,
  toQuoteQuery,
  toRedeemTokenCommand,
  toReserveCouponCommand,
} from './redemptions.domain';
import { quoteProto, redemptionProto } from './redemptions.render';
import { RedemptionsService } from './redemptions.service';

/** Transport adapter of redemptions: proto in, validated before anything is read, use case, proto out. */
@Controller()
export class RedemptionsGrpc {
  constructor(private readonly redemptions: RedemptionsService) {}

  @GrpcMethod('MarketingService', 'quoteDiscount')
  async quoteDiscount(req: QuoteDiscountRequest, metadata: Metadata): Promise<QuoteDiscountResponse> {
    const q = toQuoteQuery(req);
    return quoteProto(await this.redemptions.quoteDiscount(claimsOf(metadata), q), q.basket.currency);
  }

  @GrpcMethod('MarketingService', 'reserveCoupon')
  async reserveCoupon(req: ReserveCouponRequest, metadata: Metadata): Promise<ReserveCouponResponse> {
    const cmd = toReserveCouponCommand(req);
    return { redemption: redemptionProto(await this.redemptions.reserveCoupon(claimsOf(metadata), cmd)) };
  }

  @GrpcMethod('MarketingService', 'confirmCouponReservation')
  async confirmCouponReservation(
    req: ConfirmCouponReservationRequest,
    metadata: Metadata,
  ): Promise<ConfirmCouponReservationResponse> {
    const cmd = toEndRedemptionCommand(req);
    return {
      redemption: redemptionProto(await this.redemptions.confirmReservation(claimsOf(metadata), cmd)),
    };
  }

  @GrpcMethod('MarketingService', 'cancelCouponReservation')
  async cancelCouponReservation(
    req: CancelCouponReservationRequest,
    metadata: Metadata,
  ): Promise<CancelCouponReservationResponse> {
    const cmd = toEndRedemptionCommand(req);
    return { redemption: redemptionProto(await this.redemptions.cancelReservation(claimsOf(metadata), cmd)) };
  }

  @GrpcMethod('MarketingService', 'issueRedemptionToken')
  async issueRedemptionToken(
    req: IssueRedemptionTokenRequest,
    metadata: Metadata,
  ): Promise<IssueRedemptionTokenResponse> {
    const cmd = toIssueTokenCommand(req);
    const { token, expiresAt } = await this.redemptions.issueRedemptionToken(claimsOf(metadata), cmd);
    return { token, expiresAt: toTimestamp(expiresAt) };
  }

  @GrpcMethod('MarketingService', 'getTokenKeys')
  async getTokenKeys(): Promise<GetTokenKeysResponse> {
    return { jwksJson: JSON.stringify(await this.redemptions.tokenKeys()) };
  }

  @GrpcMethod('MarketingService', 'redeemToken')
  async redeemToken(req: RedeemTokenRequest, metadata: Metadata): Promise<RedeemTokenResponse> {
    const cmd = toRedeemTokenCommand(req);
    return { redemption: redemptionProto(await this.redemptions.redeemToken(claimsOf(metadata), cmd)) };
  }
}
