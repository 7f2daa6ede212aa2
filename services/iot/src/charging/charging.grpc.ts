import type { Metadata } from '@grpc/grpc-js';
import { Controller } from '@nestjs/common';
import { GrpcMethod } from '@nestjs/microservices';
import { claimsOf } from '@citybase/platform';
import type {
  ConfigureChargerRequest,
  ConfigureChargerResponse,
  GetChargerRequest,
  GetChargerResponse,
  GetChargingSessionRequest,
  GetChargingSessionResponse,
  ListChargingSessionsRequest,
  ListChargingSessionsResponse,
  PayChargingSessionRequest,
  PayChargingSessionResponse,
} from '@citybase/contracts/citybase/iot/v1/charging';
import {
  toChargerQuery,
  toChargingSessionQuery,
  toConfigureCharger,
  toListCharging,
  toPayChargingSession,
} from './charging.domain';
import { chargerToProto, chargingSessionToProto } from './charging.render';
import { ChargingService } from './charging.service';

/** Transport adapter of ChargingService: proto in (validated), use case, proto out. */
@Controller()
export class ChargingGrpc {
  constructor(private readonly charging: ChargingService) {}

  @GrpcMethod('ChargingService', 'configureCharger')
  async configureCharger(
    req: ConfigureChargerRequest,
    metadata: Metadata,
  ): Promise<ConfigureChargerResponse> {
    const cmd = toConfigureCharger(req);
    return { charger: chargerToProto(await this.charging.configureCharger(claimsOf(metadata), cmd)) };
  }

  @GrpcMethod('ChargingService', 'getCharger')
  async getCharger(req: GetChargerRequest, metadata: Metadata): Promise<GetChargerResponse> {
    const q = toChargerQuery(req);
    return { charger: chargerToProto(await this.charging.getCharger(claimsOf(metadata), q)) };
  }

  @GrpcMethod('ChargingService', 'getChargingSession')
  async getChargingSession(
    req: GetChargingSessionRequest,
    metadata: Metadata,
  ): Promise<GetChargingSessionResponse> {
    const q = toChargingSessionQuery(req);
    return { session: chargingSessionToProto(await this.charging.getSession(claimsOf(metadata), q)) };
  }

  @GrpcMethod('ChargingService', 'listChargingSessions')
  async listChargingSessions(
    req: ListChargingSessionsRequest,
    metadata: Metadata,
  ): Promise<ListChargingSessionsResponse> {
    const q = toListCharging(req);
    const { items, nextPageToken } = await this.charging.listSessions(claimsOf(metadata), q);
    return { sessions: items.map(chargingSessionToProto), page: { nextPageToken } };
  }

  @GrpcMethod('ChargingService', 'payChargingSession')
  async payChargingSession(
    req: PayChargingSessionRequest,
    metadata: Metadata,
  ): Promise<PayChargingSessionResponse> {
    const cmd = toPayChargingSession(req);
    const { session, payUrl } = await this.charging.paySession(claimsOf(metadata), cmd);
    return { session: chargingSessionToProto(session), payUrl };
  }
}
