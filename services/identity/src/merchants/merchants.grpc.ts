import type { Metadata } from '@grpc/grpc-js';
import { Controller } from '@nestjs/common';
import { GrpcMethod } from '@nestjs/microservices';
import { claimsOf, parsePage, requiredUuid } from '@citybase/platform';
import {
  GetMerchantRequest,
  GetMerchantResponse,
  ListMerchantsRequest,
  ListMerchantsResponse,
  RegisterMerchantRequest,
  RegisterMerchantResponse,
  SetMerchantStatusRequest,
  SetMerchantStatusResponse,
} from '@citybase/contracts/citybase/identity/v1/tenancy';
import { requiredIdNumber, requiredPhone } from '../shared/pii';
import { MERCHANT_PAGES, toRegisterMerchantCommand, toSetMerchantStatusCommand } from './merchants.domain';
import { toMerchant } from './merchants.render';
import { MerchantsService } from './merchants.service';

/**
 * Transport adapter of the merchant RPCs of citybase.identity.v1.TenancyService (the gRPC server
 * takes each method's handler from whichever controller declares it; TenancyGrpc serves the rest):
 * proto in, validated command and the caller's verified claims to the use case, proto out.
 */
@Controller()
export class MerchantsGrpc {
  constructor(private readonly merchants: MerchantsService) {}

  @GrpcMethod('TenancyService', 'registerMerchant')
  async registerMerchant(
    req: RegisterMerchantRequest,
    metadata: Metadata,
  ): Promise<RegisterMerchantResponse> {
    const claims = claimsOf(metadata);
    const cmd = toRegisterMerchantCommand(req, { idNumber: requiredIdNumber, phone: requiredPhone });
    return { merchant: toMerchant(await this.merchants.register(claims, cmd)) };
  }

  @GrpcMethod('TenancyService', 'setMerchantStatus')
  async setMerchantStatus(
    req: SetMerchantStatusRequest,
    metadata: Metadata,
  ): Promise<SetMerchantStatusResponse> {
    const claims = claimsOf(metadata);
    return { merchant: toMerchant(await this.merchants.setStatus(claims, toSetMerchantStatusCommand(req))) };
  }

  @GrpcMethod('TenancyService', 'getMerchant')
  async getMerchant(req: GetMerchantRequest, metadata: Metadata): Promise<GetMerchantResponse> {
    const claims = claimsOf(metadata);
    const id = requiredUuid('merchant_id', req.merchantId);
    return { merchant: toMerchant(await this.merchants.get(claims, id)) };
  }

  @GrpcMethod('TenancyService', 'listMerchants')
  async listMerchants(req: ListMerchantsRequest, metadata: Metadata): Promise<ListMerchantsResponse> {
    const claims = claimsOf(metadata);
    const projectId = requiredUuid('project_id', req.projectId);
    const page = parsePage(req.page, MERCHANT_PAGES);
    const { items, nextPageToken } = await this.merchants.list(claims, projectId, page);
    return { merchants: items.map(toMerchant), page: { nextPageToken } };
  }
}
