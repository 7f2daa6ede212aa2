import type { Metadata } from '@grpc/grpc-js';
import { Controller } from '@nestjs/common';
import { GrpcMethod } from '@nestjs/microservices';
import { claimsOf } from '@citybase/platform';
import {
  SetHouseholdMembersRequest,
  SetHouseholdMembersResponse,
} from '@citybase/contracts/citybase/points/v1/points';
import { toSetHouseholdMembersCommand } from './households.domain';
import { HouseholdsService } from './households.service';

/** Transport adapter of households: proto in (validated), use case, proto out. */
@Controller()
export class HouseholdsGrpc {
  constructor(private readonly households: HouseholdsService) {}

  @GrpcMethod('PointsService', 'setHouseholdMembers')
  async setHouseholdMembers(
    req: SetHouseholdMembersRequest,
    metadata: Metadata,
  ): Promise<SetHouseholdMembersResponse> {
    const cmd = toSetHouseholdMembersCommand(req);
    return this.households.setHouseholdMembers(claimsOf(metadata), cmd);
  }
}
