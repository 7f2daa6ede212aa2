import type { Metadata } from '@grpc/grpc-js';
import { Controller } from '@nestjs/common';
import { GrpcMethod } from '@nestjs/microservices';
import { claimsOf, DomainError, tenancyFilter } from '@citybase/platform';
import { ExportAccessLogRequest, ExportAccessLogResponse } from '@citybase/contracts/citybase/data/v1/data';
import { AccessLog } from './access-log.service';

/** Transport adapter of the access log: ExportAccessLog (the city admin's). */
@Controller()
export class AccessLogGrpc {
  constructor(private readonly log: AccessLog) {}

  @GrpcMethod('DataService', 'exportAccessLog')
  async exportAccessLog(req: ExportAccessLogRequest, metadata: Metadata): Promise<ExportAccessLogResponse> {
    if (!tenancyFilter(claimsOf(metadata)).all)
      throw new DomainError(
        'permission_denied',
        'CITY_ADMIN_ONLY',
        'the access log is exported by an unrestricted city administrator only',
      );
    const from = req.fromSeq === 0n ? 1 : Number(req.fromSeq);
    if (!Number.isSafeInteger(from) || from < 1)
      throw DomainError.invalid('from_seq', 'must be 0 (all) or a sequence number');
    const { json, entries } = await this.log.exportLog(from);
    return { exportJson: json, entries: BigInt(entries) };
  }
}
