import type { Metadata } from '@grpc/grpc-js';
import { Controller } from '@nestjs/common';
import { GrpcMethod } from '@nestjs/microservices';
import { claimsOf } from '@citybase/platform';
import {
  ClaimCouponRequest,
  ClaimCouponResponse,
  GetCouponRequest,
  GetCouponResponse,
  ListCouponsRequest,
  ListCouponsResponse,
} from '@citybase/contracts/citybase/marketing/v1/marketing';
import { toClaimCouponCommand, toGetCouponQuery, toListCouponsQuery } from './coupons.domain';
import { couponToProto } from './coupons.render';
import { CouponsService } from './coupons.service';

/** Transport adapter of coupons: proto in (validated), use case, proto out. */
@Controller()
export class CouponsGrpc {
  constructor(private readonly coupons: CouponsService) {}

  @GrpcMethod('MarketingService', 'claimCoupon')
  async claimCoupon(req: ClaimCouponRequest, metadata: Metadata): Promise<ClaimCouponResponse> {
    const cmd = toClaimCouponCommand(req);
    const { coupon, campaign } = await this.coupons.claim(claimsOf(metadata), cmd);
    return { coupon: couponToProto(coupon, campaign) };
  }

  @GrpcMethod('MarketingService', 'getCoupon')
  async getCoupon(req: GetCouponRequest, metadata: Metadata): Promise<GetCouponResponse> {
    const q = toGetCouponQuery(req);
    const { coupon, campaign } = await this.coupons.getCoupon(claimsOf(metadata), q);
    return { coupon: couponToProto(coupon, campaign) };
  }

  @GrpcMethod('MarketingService', 'listCoupons')
  async listCoupons(req: ListCouponsRequest, metadata: Metadata): Promise<ListCouponsResponse> {
    const q = toListCouponsQuery(req);
    const { items, nextPageToken } = await this.coupons.listCoupons(claimsOf(metadata), q);
    return { coupons: items.map((i) => couponToProto(i.coupon, i.campaign)), page: { nextPageToken } };
  }
}
