import type { Metadata } from '@grpc/grpc-js';
import { Controller } from '@nestjs/common';
import { GrpcMethod } from '@nestjs/microservices';
import { claimsOf } from '@citybase/platform';
import {
  ExportTaxRecordsRequest,
  ExportTaxRecordsResponse,
  QueryTaxRecordsRequest,
  QueryTaxRecordsResponse,
} from '@citybase/contracts/citybase/settlement/v1/settlement';
import { toExportTaxRecordsQuery, toQueryTaxRecordsQuery } from './tax-records.domain';
import { taxRecordToProto } from './tax-records.render';
import { TaxRecordsService } from './tax-records.service';

/** Transport adapter of tax records: proto in (validated), use case, proto out. */
@Controller()
export class TaxRecordsGrpc {
  constructor(private readonly tax: TaxRecordsService) {}

  @GrpcMethod('SettlementService', 'queryTaxRecords')
  async queryTaxRecords(req: QueryTaxRecordsRequest, metadata: Metadata): Promise<QueryTaxRecordsResponse> {
    const q = toQueryTaxRecordsQuery(req);
    const { records, nextPageToken } = await this.tax.query(claimsOf(metadata), q);
    return { records: records.map(taxRecordToProto), page: { nextPageToken } };
  }

  @GrpcMethod('SettlementService', 'exportTaxRecords')
  async exportTaxRecords(
    req: ExportTaxRecordsRequest,
    metadata: Metadata,
  ): Promise<ExportTaxRecordsResponse> {
    const q = toExportTaxRecordsQuery(req);
    return { csv: await this.tax.exportCsv(claimsOf(metadata), q) };
  }
}
