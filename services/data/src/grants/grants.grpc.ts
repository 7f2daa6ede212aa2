import type { Metadata } from '@grpc/grpc-js';
import { Controller } from '@nestjs/common';
import { GrpcMethod } from '@nestjs/microservices';
import { claimsOf, optionalString, parsePage, requestId, requiredUuid, TENANT_ID } from '@citybase/platform';
import {
  GetGrantRequest,
  GetGrantResponse,
  IssueGrantRequest,
  IssueGrantResponse,
  ListGrantsRequest,
  ListGrantsResponse,
  RevokeGrantRequest,
  RevokeGrantResponse,
} from '@citybase/contracts/citybase/data/v1/data';
import { GRANTS_PAGE, toIssueGrantCommand } from './grants.domain';
import { grantToProto } from './grants.render';
import { GrantsService } from './grants.service';

/** Transport adapter of grants. */
@Controller()
export class GrantsGrpc {
  constructor(private readonly grants: GrantsService) {}

  @GrpcMethod('DataService', 'issueGrant')
  async issueGrant(req: IssueGrantRequest, metadata: Metadata): Promise<IssueGrantResponse> {
    const cmd = toIssueGrantCommand(req, new Date());
    return { grant: grantToProto(await this.grants.issue(claimsOf(metadata), cmd)) };
  }

  @GrpcMethod('DataService', 'getGrant')
  async getGrant(req: GetGrantRequest, metadata: Metadata): Promise<GetGrantResponse> {
    const grantId = requiredUuid('grant_id', req.grantId);
    return { grant: grantToProto(await this.grants.get(claimsOf(metadata), grantId)) };
  }

  @GrpcMethod('DataService', 'listGrants')
  async listGrants(req: ListGrantsRequest, metadata: Metadata): Promise<ListGrantsResponse> {
    const agencyId = optionalString('agency_id', req.agencyId, { max: TENANT_ID.max });
    const { size, after } = parsePage(req.page, GRANTS_PAGE);
    const { rows, nextPageToken } = await this.grants.list(claimsOf(metadata), {
      agencyId,
      size,
      after: after && { createdAt: after[0], grantId: after[1] },
    });
    return { grants: rows.map((g) => grantToProto(g)), page: { nextPageToken } };
  }

  @GrpcMethod('DataService', 'revokeGrant')
  async revokeGrant(req: RevokeGrantRequest, metadata: Metadata): Promise<RevokeGrantResponse> {
    const cmd = {
      requestId: requestId(req.requestId),
      grantId: requiredUuid('grant_id', req.grantId),
      reason: optionalString('reason', req.reason, { max: 500 }),
    };
    return { grant: grantToProto(await this.grants.revoke(claimsOf(metadata), cmd)) };
  }
}
