import type { Metadata } from '@grpc/grpc-js';
import { Controller } from '@nestjs/common';
import { GrpcMethod } from '@nestjs/microservices';
import { claimsOf, toTimestamp } from '@citybase/platform';
import type {
  BindDoorRequest,
  BindDoorResponse,
  IssueCourierCodeRequest,
  IssueCourierCodeResponse,
  ListAccessRecordsRequest,
  ListAccessRecordsResponse,
  OpenDoorRequest,
  OpenDoorResponse,
  UseCourierCodeRequest,
  UseCourierCodeResponse,
} from '@citybase/contracts/citybase/iot/v1/access';
import { toBindDoor, toIssueCode, toListRecords, toOpenDoor, toUseCode } from './access.domain';
import { doorToProto, recordToProto } from './access.render';
import { AccessService } from './access.service';

/** Transport adapter of iot's AccessService: proto in (validated), use case, proto out. */
@Controller()
export class AccessGrpc {
  constructor(private readonly access: AccessService) {}

  @GrpcMethod('AccessService', 'bindDoor')
  async bindDoor(req: BindDoorRequest, metadata: Metadata): Promise<BindDoorResponse> {
    const cmd = toBindDoor(req);
    return { door: doorToProto(await this.access.bindDoor(claimsOf(metadata), cmd)) };
  }

  @GrpcMethod('AccessService', 'openDoor')
  async openDoor(req: OpenDoorRequest, metadata: Metadata): Promise<OpenDoorResponse> {
    const cmd = toOpenDoor(req);
    return { record: recordToProto(await this.access.openDoor(claimsOf(metadata), cmd)) };
  }

  @GrpcMethod('AccessService', 'issueCourierCode')
  async issueCourierCode(
    req: IssueCourierCodeRequest,
    metadata: Metadata,
  ): Promise<IssueCourierCodeResponse> {
    const cmd = toIssueCode(req);
    const r = await this.access.issueCourierCode(claimsOf(metadata), cmd);
    return { codeId: r.codeId, code: r.code, expiresAt: toTimestamp(r.expiresAt) };
  }

  @GrpcMethod('AccessService', 'useCourierCode')
  async useCourierCode(req: UseCourierCodeRequest, metadata: Metadata): Promise<UseCourierCodeResponse> {
    const cmd = toUseCode(req);
    return { record: recordToProto(await this.access.useCourierCode(claimsOf(metadata), cmd)) };
  }

  @GrpcMethod('AccessService', 'listAccessRecords')
  async listAccessRecords(
    req: ListAccessRecordsRequest,
    metadata: Metadata,
  ): Promise<ListAccessRecordsResponse> {
    const q = toListRecords(req);
    const { items, nextPageToken } = await this.access.listRecords(claimsOf(metadata), q);
    return { records: items.map(recordToProto), page: { nextPageToken } };
  }
}
