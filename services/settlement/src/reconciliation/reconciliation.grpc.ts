import type { Metadata } from '@grpc/grpc-js';
import { Controller } from '@nestjs/common';
import { GrpcMethod } from '@nestjs/microservices';
import { claimsOf, requiredUuid } from '@citybase/platform';
import {
  GetReconciliationReportRequest,
  GetReconciliationReportResponse,
  ImportChannelStatementRequest,
  ImportChannelStatementResponse,
} from '@citybase/contracts/citybase/settlement/v1/settlement';
import { reportProto } from './reconciliation.render';
import { toImportStatementCommand } from './reconciliation.domain';
import { ReconciliationService } from './reconciliation.service';

/** Transport adapter of reconciliation: proto in, use case, proto out. */
@Controller()
export class ReconciliationGrpc {
  constructor(private readonly reconciliation: ReconciliationService) {}

  @GrpcMethod('SettlementService', 'importChannelStatement')
  async importChannelStatement(
    req: ImportChannelStatementRequest,
    metadata: Metadata,
  ): Promise<ImportChannelStatementResponse> {
    const cmd = toImportStatementCommand(req);
    return { report: reportProto(await this.reconciliation.importStatement(claimsOf(metadata), cmd)) };
  }

  @GrpcMethod('SettlementService', 'getReconciliationReport')
  async getReconciliationReport(
    req: GetReconciliationReportRequest,
    metadata: Metadata,
  ): Promise<GetReconciliationReportResponse> {
    const reportId = requiredUuid('report_id', req.reportId);
    return { report: reportProto(await this.reconciliation.getReport(claimsOf(metadata), reportId)) };
  }
}
