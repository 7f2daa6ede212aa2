import type { Metadata } from '@grpc/grpc-js';
import { Controller } from '@nestjs/common';
import { GrpcMethod } from '@nestjs/microservices';
import { claimsOf } from '@citybase/platform';
import {
  GetProgrammeRequest,
  GetProgrammeResponse,
  SetProgrammeRequest,
  SetProgrammeResponse,
} from '@citybase/contracts/citybase/points/v1/points';
import { toGetProgrammeQuery, toSetProgrammeCommand } from './programmes.domain';
import { programmeToProto } from './programmes.render';
import { ProgrammesService } from './programmes.service';

/** Transport adapter of programmes: proto in (validated), use case, proto out. */
@Controller()
export class ProgrammesGrpc {
  constructor(private readonly programmes: ProgrammesService) {}

  @GrpcMethod('PointsService', 'setProgramme')
  async setProgramme(req: SetProgrammeRequest, metadata: Metadata): Promise<SetProgrammeResponse> {
    const cmd = toSetProgrammeCommand(req);
    return { programme: programmeToProto(await this.programmes.setProgramme(claimsOf(metadata), cmd)) };
  }

  @GrpcMethod('PointsService', 'getProgramme')
  async getProgramme(req: GetProgrammeRequest, metadata: Metadata): Promise<GetProgrammeResponse> {
    const q = toGetProgrammeQuery(req);
    return { programme: programmeToProto(await this.programmes.getProgramme(claimsOf(metadata), q)) };
  }
}
