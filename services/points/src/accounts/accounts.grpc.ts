import type { Metadata } from '@grpc/grpc-js';
import { Controller } from '@nestjs/common';
import { GrpcMethod } from '@nestjs/microservices';
import { claimsOf } from '@citybase/platform';
import {
  CancelReservationRequest,
  CancelReservationResponse,
  ConfirmReservationRequest,
  ConfirmReservationResponse,
  GetBalanceRequest,
  GetBalanceResponse,
  GetReservationRequest,
  GetReservationResponse,
  IssuePointsRequest,
  IssuePointsResponse,
  ListHistoryRequest,
  ListHistoryResponse,
  ListLotsRequest,
  ListLotsResponse,
  ReservePointsRequest,
  ReservePointsResponse,
  TransferPointsRequest,
  TransferPointsResponse,
} from '@citybase/contracts/citybase/points/v1/points';
import {
  toEndReservationCommand,
  toGetBalanceQuery,
  toGetReservationQuery,
  toIssuePointsCommand,
  toListHistoryQuery,
  toListLotsQuery,
  toReservePointsCommand,
  toTransferPointsCommand,
} from './accounts.domain';
import { balanceProto, entryProto, lotProto, reservationProto } from './accounts.render';
import { AccountsService } from './accounts.service';

/** Transport adapter of accounts: proto in, validated before anything is read, use case, proto out. */
@Controller()
export class AccountsGrpc {
  constructor(private readonly accounts: AccountsService) {}

  @GrpcMethod('PointsService', 'getBalance')
  async getBalance(req: GetBalanceRequest, metadata: Metadata): Promise<GetBalanceResponse> {
    const q = toGetBalanceQuery(req);
    const { account, balance, tier, expiringSoon } = await this.accounts.getBalance(claimsOf(metadata), q);
    return balanceProto(q.holderId, account, balance, { tier, expiringSoon });
  }

  @GrpcMethod('PointsService', 'listLots')
  async listLots(req: ListLotsRequest, metadata: Metadata): Promise<ListLotsResponse> {
    const q = toListLotsQuery(req);
    const { lots, nextPageToken } = await this.accounts.listLots(claimsOf(metadata), q);
    const now = new Date();
    return { lots: lots.map((l) => lotProto(l, now)), page: { nextPageToken } };
  }

  @GrpcMethod('PointsService', 'listHistory')
  async listHistory(req: ListHistoryRequest, metadata: Metadata): Promise<ListHistoryResponse> {
    const q = toListHistoryQuery(req);
    const { entries, nextPageToken } = await this.accounts.listHistory(claimsOf(metadata), q);
    return { entries: entries.map(entryProto), page: { nextPageToken } };
  }

  @GrpcMethod('PointsService', 'issuePoints')
  async issuePoints(req: IssuePointsRequest, metadata: Metadata): Promise<IssuePointsResponse> {
    const cmd = toIssuePointsCommand(req, new Date());
    return this.accounts.issuePoints(claimsOf(metadata), cmd);
  }

  @GrpcMethod('PointsService', 'transferPoints')
  async transferPoints(req: TransferPointsRequest, metadata: Metadata): Promise<TransferPointsResponse> {
    const cmd = toTransferPointsCommand(req);
    return this.accounts.transferPoints(claimsOf(metadata), cmd);
  }

  @GrpcMethod('PointsService', 'reservePoints')
  async reservePoints(req: ReservePointsRequest, metadata: Metadata): Promise<ReservePointsResponse> {
    const cmd = toReservePointsCommand(req);
    return { reservation: reservationProto(await this.accounts.reservePoints(claimsOf(metadata), cmd)) };
  }

  @GrpcMethod('PointsService', 'confirmReservation')
  async confirmReservation(
    req: ConfirmReservationRequest,
    metadata: Metadata,
  ): Promise<ConfirmReservationResponse> {
    const cmd = toEndReservationCommand(req);
    return { reservation: reservationProto(await this.accounts.confirmReservation(claimsOf(metadata), cmd)) };
  }

  @GrpcMethod('PointsService', 'cancelReservation')
  async cancelReservation(
    req: CancelReservationRequest,
    metadata: Metadata,
  ): Promise<CancelReservationResponse> {
    const cmd = toEndReservationCommand(req);
    return { reservation: reservationProto(await this.accounts.cancelReservation(claimsOf(metadata), cmd)) };
  }

  @GrpcMethod('PointsService', 'getReservation')
  async getReservation(req: GetReservationRequest, metadata: Metadata): Promise<GetReservationResponse> {
    const q = toGetReservationQuery(req);
    return { reservation: reservationProto(await this.accounts.getReservation(claimsOf(metadata), q)) };
  }
}
