import type { Metadata } from '@grpc/grpc-js';
import { Controller } from '@nestjs/common';
import { GrpcMethod } from '@nestjs/microservices';
import { claimsOf } from '@citybase/platform';
import {
  ExportCodesRequest,
  ExportCodesResponse,
  GenerateCodesRequest,
  GenerateCodesResponse,
  GetCodeBatchRequest,
  GetCodeBatchResponse,
} from '@citybase/contracts/citybase/marketing/v1/marketing';
import { toExportCodesQuery, toGenerateCodesCommand, toGetCodeBatchQuery } from './codes.domain';
import { batchToProto } from './codes.render';
import { CodesService } from './codes.service';

/** Transport adapter of codes: proto in (validated), use case, proto out. */
@Controller()
export class CodesGrpc {
  constructor(private readonly codes: CodesService) {}

  @GrpcMethod('MarketingService', 'generateCodes')
  async generateCodes(req: GenerateCodesRequest, metadata: Metadata): Promise<GenerateCodesResponse> {
    const cmd = toGenerateCodesCommand(req);
    return { batch: batchToProto(await this.codes.generateCodes(claimsOf(metadata), cmd)) };
  }

  @GrpcMethod('MarketingService', 'getCodeBatch')
  async getCodeBatch(req: GetCodeBatchRequest, metadata: Metadata): Promise<GetCodeBatchResponse> {
    const q = toGetCodeBatchQuery(req);
    return { batch: batchToProto(await this.codes.getCodeBatch(claimsOf(metadata), q)) };
  }

  @GrpcMethod('MarketingService', 'exportCodes')
  async exportCodes(req: ExportCodesRequest, metadata: Metadata): Promise<ExportCodesResponse> {
    const q = toExportCodesQuery(req);
    const { items, nextPageToken } = await this.codes.exportCodes(claimsOf(metadata), q);
    return {
      codes: items.map((c) => ({ code: c.code, couponId: c.coupon_id ?? '' })),
      page: { nextPageToken },
    };
  }
}
