import type { Metadata } from '@grpc/grpc-js';
import { Controller } from '@nestjs/common';
import { GrpcMethod } from '@nestjs/microservices';
import { claimsOf } from '@citybase/platform';
import type {
  CreateLotRequest,
  CreateLotResponse,
  GetLotRequest,
  GetLotResponse,
  GetParkingSessionRequest,
  GetParkingSessionResponse,
  IssuePassRequest,
  IssuePassResponse,
  ListParkingSessionsRequest,
  ListParkingSessionsResponse,
  RecordPlateReadRequest,
  RecordPlateReadResponse,
  SetParkingTariffRequest,
  SetParkingTariffResponse,
} from '@citybase/contracts/citybase/iot/v1/parking';
import {
  toCreateLot,
  toIssuePass,
  toListSessions,
  toLotQuery,
  toPlateRead,
  toSessionQuery,
  toSetTariff,
} from './parking.domain';
import { lotToProto, passToProto, sessionToProto } from './parking.render';
import { ParkingService } from './parking.service';

/** Transport adapter of ParkingService: proto in (validated), use case, proto out. */
@Controller()
export class ParkingGrpc {
  constructor(private readonly parking: ParkingService) {}

  @GrpcMethod('ParkingService', 'createLot')
  async createLot(req: CreateLotRequest, metadata: Metadata): Promise<CreateLotResponse> {
    const cmd = toCreateLot(req);
    return { lot: lotToProto(await this.parking.createLot(claimsOf(metadata), cmd)) };
  }

  @GrpcMethod('ParkingService', 'setParkingTariff')
  async setParkingTariff(
    req: SetParkingTariffRequest,
    metadata: Metadata,
  ): Promise<SetParkingTariffResponse> {
    const cmd = toSetTariff(req);
    return { lot: lotToProto(await this.parking.setTariff(claimsOf(metadata), cmd)) };
  }

  @GrpcMethod('ParkingService', 'getLot')
  async getLot(req: GetLotRequest, metadata: Metadata): Promise<GetLotResponse> {
    const q = toLotQuery(req);
    return { lot: lotToProto(await this.parking.getLot(claimsOf(metadata), q)) };
  }

  @GrpcMethod('ParkingService', 'issuePass')
  async issuePass(req: IssuePassRequest, metadata: Metadata): Promise<IssuePassResponse> {
    const cmd = toIssuePass(req);
    return { pass: passToProto(await this.parking.issuePass(claimsOf(metadata), cmd)) };
  }

  @GrpcMethod('ParkingService', 'recordPlateRead')
  async recordPlateRead(req: RecordPlateReadRequest, metadata: Metadata): Promise<RecordPlateReadResponse> {
    const cmd = toPlateRead(req, new Date());
    return { session: sessionToProto(await this.parking.recordPlateRead(claimsOf(metadata), cmd)) };
  }

  @GrpcMethod('ParkingService', 'getParkingSession')
  async getParkingSession(
    req: GetParkingSessionRequest,
    metadata: Metadata,
  ): Promise<GetParkingSessionResponse> {
    const q = toSessionQuery(req);
    return { session: sessionToProto(await this.parking.getSession(claimsOf(metadata), q)) };
  }

  @GrpcMethod('ParkingService', 'listParkingSessions')
  async listParkingSessions(
    req: ListParkingSessionsRequest,
    metadata: Metadata,
  ): Promise<ListParkingSessionsResponse> {
    const q = toListSessions(req);
    const { items, nextPageToken } = await this.parking.listSessions(claimsOf(metadata), q);
    return { sessions: items.map(sessionToProto), page: { nextPageToken } };
  }
}
