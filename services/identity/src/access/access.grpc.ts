import type { Metadata } from '@grpc/grpc-js';
import { Controller } from '@nestjs/common';
import { GrpcMethod } from '@nestjs/microservices';
import { claimsOf, requiredUuid } from '@citybase/platform';
import {
  CheckDoorAccessRequest,
  CheckDoorAccessResponse,
  IssueDoorGrantRequest,
  IssueDoorGrantResponse,
  ListDoorGrantsRequest,
  ListDoorGrantsResponse,
  RevokeDoorGrantRequest,
  RevokeDoorGrantResponse,
} from '@citybase/contracts/citybase/identity/v1/access';
import { toCheckDoorAccessQuery, toIssueDoorGrantCommand, toRevokeDoorGrantCommand } from './access.domain';
import { AccessService, toDoorGrant } from './access.service';

/** Transport adapter: proto in (validated into a command), use case, proto out. */
@Controller()
export class AccessGrpc {
  constructor(private readonly access: AccessService) {}

  @GrpcMethod('AccessService', 'issueDoorGrant')
  async issueDoorGrant(req: IssueDoorGrantRequest, metadata: Metadata): Promise<IssueDoorGrantResponse> {
    const claims = claimsOf(metadata);
    return { grant: toDoorGrant(await this.access.issueDoorGrant(claims, toIssueDoorGrantCommand(req))) };
  }

  @GrpcMethod('AccessService', 'revokeDoorGrant')
  async revokeDoorGrant(req: RevokeDoorGrantRequest, metadata: Metadata): Promise<RevokeDoorGrantResponse> {
    const claims = claimsOf(metadata);
    return { grant: toDoorGrant(await this.access.revokeDoorGrant(claims, toRevokeDoorGrantCommand(req))) };
  }

  @GrpcMethod('AccessService', 'checkDoorAccess')
  async checkDoorAccess(req: CheckDoorAccessRequest, metadata: Metadata): Promise<CheckDoorAccessResponse> {
    const claims = claimsOf(metadata);
    return this.access.checkDoorAccess(claims, toCheckDoorAccessQuery(req));
  }

  @GrpcMethod('AccessService', 'listDoorGrants')
  async listDoorGrants(req: ListDoorGrantsRequest, metadata: Metadata): Promise<ListDoorGrantsResponse> {
    const claims = claimsOf(metadata);
    const grants = await this.access.listDoorGrants(claims, requiredUuid('resident_id', req.residentId));
    return { grants: grants.map(toDoorGrant) };
  }
}
