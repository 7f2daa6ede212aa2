import type { Metadata } from '@grpc/grpc-js';
import { Controller } from '@nestjs/common';
import { GrpcMethod } from '@nestjs/microservices';
import { claimsOf, requestId, toTimestamp } from '@citybase/platform';
import {
  type ApiClient,
  ClientStatus,
  type CreateClientRequest,
  type CreateClientResponse,
  type GetClientRequest,
  type GetClientResponse,
  type ListClientsRequest,
  type ListClientsResponse,
  type RevokeClientRequest,
  type RevokeClientResponse,
  type RotateClientSecretRequest,
  type RotateClientSecretResponse,
  type RotateSigningKeyRequest,
  type RotateSigningKeyResponse,
  type SigningKey,
} from '@citybase/contracts/citybase/identity/v1/clients';
import {
  requiredClientId,
  toCreateClientCommand,
  toListClientsQuery,
  toRevokeClientCommand,
  toRotateClientSecretCommand,
} from './clients.domain';
import { ClientsService } from './clients.service';
import { CLIENT_REVOKED, type ClientRow } from './clients.store';
import { SigningKeysService } from './keys/signing-keys.service';
import type { StoredSigningKey } from './keys/signing-keys.domain';

/** ClientService: proto in, use case, proto out. The transport has checked each RPC's scope. */
@Controller()
export class ClientsGrpc {
  constructor(
    private readonly clients: ClientsService,
    private readonly signingKeys: SigningKeysService,
  ) {}

  @GrpcMethod('ClientService', 'createClient')
  async createClient(req: CreateClientRequest, metadata: Metadata): Promise<CreateClientResponse> {
    const claims = claimsOf(metadata);
    const { client, secret } = await this.clients.create(claims, toCreateClientCommand(req));
    return { client: toApiClient(client), clientSecret: secret };
  }

  @GrpcMethod('ClientService', 'rotateClientSecret')
  async rotateClientSecret(
    req: RotateClientSecretRequest,
    metadata: Metadata,
  ): Promise<RotateClientSecretResponse> {
    const claims = claimsOf(metadata);
    const { client, secret } = await this.clients.rotateSecret(claims, toRotateClientSecretCommand(req));
    return { client: toApiClient(client), clientSecret: secret };
  }

  @GrpcMethod('ClientService', 'revokeClient')
  async revokeClient(req: RevokeClientRequest, metadata: Metadata): Promise<RevokeClientResponse> {
    const claims = claimsOf(metadata);
    return { client: toApiClient(await this.clients.revoke(claims, toRevokeClientCommand(req))) };
  }

  @GrpcMethod('ClientService', 'getClient')
  async getClient(req: GetClientRequest, metadata: Metadata): Promise<GetClientResponse> {
    const claims = claimsOf(metadata);
    return {
      client: toApiClient(await this.clients.get(claims, requiredClientId('client_id', req.clientId))),
    };
  }

  @GrpcMethod('ClientService', 'listClients')
  async listClients(req: ListClientsRequest, metadata: Metadata): Promise<ListClientsResponse> {
    const claims = claimsOf(metadata);
    const { clients, nextPageToken } = await this.clients.list(claims, toListClientsQuery(req));
    return { clients: clients.map(toApiClient), page: { nextPageToken } };
  }

  @GrpcMethod('ClientService', 'rotateSigningKey')
  async rotateSigningKey(
    req: RotateSigningKeyRequest,
    metadata: Metadata,
  ): Promise<RotateSigningKeyResponse> {
    const claims = claimsOf(metadata);
    const { key, published } = await this.signingKeys.rotate(claims, requestId(req.requestId));
    return { key: toSigningKey(key), published: published.map(toSigningKey) };
  }
}

/** Never the secret hash: ClientRow does not even carry it. */
export function toApiClient(row: ClientRow): ApiClient {
  return {
    clientId: row.client_id,
    name: row.name,
    scopes: row.scopes,
    tenancy: { operatorIds: row.operator_ids, projectIds: row.project_ids },
    status:
      row.status === CLIENT_REVOKED ? ClientStatus.CLIENT_STATUS_REVOKED : ClientStatus.CLIENT_STATUS_ACTIVE,
    createdAt: toTimestamp(row.created_at),
    secretRotatedAt: row.secret_rotated_at ? toTimestamp(row.secret_rotated_at) : undefined,
    revokedAt: row.revoked_at ? toTimestamp(row.revoked_at) : undefined,
    createdByClientId: row.created_by_client_id ?? '',
  };
}

function toSigningKey(key: StoredSigningKey): SigningKey {
  return {
    kid: key.kid,
    createdAt: toTimestamp(key.createdAt),
    retiredAt: key.retiredAt ? toTimestamp(key.retiredAt) : undefined,
  };
}
