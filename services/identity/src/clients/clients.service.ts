import { Inject, Injectable } from '@nestjs/common';
import {
  type CitybaseClaims,
  ClientRevocations,
  DomainError,
  Mutations,
  PAGE_TOKEN_FIELD,
  PAGE_TOKEN_RULE,
  pageOf,
  PG_POOL,
  type Pool,
  SERVICE_CONFIG,
  tenancyFilter,
  toTimestamp,
} from '@citybase/platform';
import { IdentityEvents } from '@citybase/contracts/events';
import type { IdentityConfig } from '../config';
import { TenancyService } from '../tenancy/tenancy.service';
import { type ClientSecretHasher, newClientId, newClientSecret } from './client-secret';
import {
  assertScopesHeld,
  assertTenancyInside,
  CLIENTS_PAGE,
  type CreateClientCommand,
  type ListClientsQuery,
  type RevokeClientCommand,
  type RotateClientSecretCommand,
} from './clients.domain';
import {
  CLIENT_REVOKED,
  type ClientRow,
  type ClientVisibility,
  clientExists,
  findClientByInternalId,
  findVisibleClient,
  insertClient,
  listVisibleClients,
  markRevoked,
  updateSecretHash,
} from './clients.store';
import { CLIENT_REVOCATIONS, CLIENT_SECRET_HASHER } from './clients.di';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Grace after a token's lifetime during which a revoked client's id stays on the revocation list. */
const REVOCATION_MARGIN_SECONDS = 60;

/** A client and, right after it was created or rotated, its secret (empty on an idempotent replay). */
export interface ClientWithSecret {
  client: ClientRow;
  secret: string;
}

@Injectable()
export class ClientsService {
  constructor(
    @Inject(PG_POOL) private readonly pool: Pool,
    private readonly mutations: Mutations,
    private readonly tenancy: TenancyService,
    @Inject(SERVICE_CONFIG) private readonly config: IdentityConfig,
    @Inject(CLIENT_REVOCATIONS) private readonly revocations: ClientRevocations,
    @Inject(CLIENT_SECRET_HASHER) private readonly secrets: ClientSecretHasher,
  ) {}

  /**
   * Creates a client whose scopes the caller holds and whose tenancy lies inside the caller's. The
   * secret is returned once; only its keyed hash is stored. Idempotent by request id (a replay
   * returns the client with an empty secret).
   */
  async create(claims: CitybaseClaims, cmd: CreateClientCommand): Promise<ClientWithSecret> {
    assertScopesHeld(claims, cmd.scopes);
    const secret = newClientSecret();
    const secretHash = this.secrets.hash(secret);
    // The requested tenancy, checked before the request key as ever: operators and projects are
    // never deleted, so what exists now still exists when the client commits.
    const operators = await this.tenancy.existingOperators(this.pool, cmd.operatorIds);
    cmd.operatorIds.forEach((id, i) => {
      if (!operators.has(id))
        throw DomainError.invalid(`tenancy.operator_ids[${i}]`, `unknown operator ${id}`);
    });
    const projects = await this.tenancy.projectOperators(this.pool, cmd.projectIds);
    cmd.projectIds.forEach((id, i) => {
      if (!projects.has(id)) throw DomainError.invalid(`tenancy.project_ids[${i}]`, `unknown project ${id}`);
    });
    assertTenancyInside(claims, cmd, projects);
    const { requestId, ...command } = cmd;
    const { result: created, replayed } = await this.mutations.runWithOutcome({
      method: 'ClientService.CreateClient',
      claims,
      requestId,
      command,
      done: 'api client created',
      execute: async ({ client, resourceId: internalId, emit, note }) => {
        const row = await insertClient(client, {
          clientId: await this.unusedClientId(client),
          internalId,
          name: cmd.name,
          scopes: cmd.scopes,
          operatorIds: cmd.operatorIds,
          projectIds: cmd.projectIds,
          secretHash,
          createdByClientId: claims.sub,
        });
        await emit(
          IdentityEvents.ClientCreated,
          {
            clientId: row.client_id,
            name: row.name,
            scopes: row.scopes,
            operatorIds: row.operator_ids,
            projectIds: row.project_ids,
            createdByClientId: claims.sub,
            occurredAt: toTimestamp(row.created_at),
          },
          { key: row.client_id, subject: row.client_id },
        );
        note({ api_client_id: row.client_id, scopes: row.scopes });
        return this.byInternalId(client, internalId);
      },
      replay: ({ client, resourceId }) => this.byInternalId(client, resourceId),
    });
    return { client: created, secret: replayed ? '' : secret };
  }

  /** A new secret; the old one stops working at once. Idempotent (a replay returns an empty secret). */
  async rotateSecret(claims: CitybaseClaims, cmd: RotateClientSecretCommand): Promise<ClientWithSecret> {
    const secret = newClientSecret();
    const secretHash = this.secrets.hash(secret);
    const { result: client, replayed } = await this.mutations.runWithOutcome({
      method: 'ClientService.RotateClientSecret',
      claims,
      requestId: cmd.requestId,
      command: { clientId: cmd.clientId },
      // the key's resource is the client the request names (same key, same request)
      resourceId: cmd.clientId,
      done: 'api client secret rotated',
      execute: async ({ client: tx, emit, note }) => {
        const current = await this.visibleOrNotFound(tx, claims, cmd.clientId, true);
        if (current.status === CLIENT_REVOKED) {
          throw new DomainError(
            'failed_precondition',
            'CLIENT_REVOKED',
            `client ${cmd.clientId} is revoked`,
            {
              field: 'client_id',
              rule: 'must be an active client',
            },
          );
        }
        const updated = await updateSecretHash(tx, cmd.clientId, secretHash);
        await emit(
          IdentityEvents.ClientSecretRotated,
          { clientId: updated.client_id, occurredAt: toTimestamp(updated.secret_rotated_at ?? new Date()) },
          { key: updated.client_id, subject: updated.client_id },
        );
        note({ api_client_id: updated.client_id });
        return this.visibleOrNotFound(tx, claims, cmd.clientId);
      },
      replay: ({ client: tx }) => this.visibleOrNotFound(tx, claims, cmd.clientId),
    });
    return { client, secret: replayed ? '' : secret };
  }

  /**
   * Revokes a client: no new tokens (token issuance reads the status), and its unexpired tokens are
   * refused by every service from the next call on (the shared revocation list in Redis, written
   * after the commit; if Redis fails the RPC fails and the caller retries, which rewrites it).
   * Revoking a revoked client changes nothing and publishes nothing, but rewrites the list entry.
   */
  async revoke(claims: CitybaseClaims, cmd: RevokeClientCommand): Promise<ClientRow> {
    const client = await this.mutations.run({
      method: 'ClientService.RevokeClient',
      claims,
      requestId: cmd.requestId,
      command: { clientId: cmd.clientId, reason: cmd.reason },
      // the key's resource is the client the request names (same key, same request)
      resourceId: cmd.clientId,
      done: 'api client revoked',
      execute: async ({ client: tx, emit, note }) => {
        const current = await this.visibleOrNotFound(tx, claims, cmd.clientId, true);
        const revoking = current.status !== CLIENT_REVOKED;
        note({ api_client_id: current.client_id, changed: revoking });
        if (revoking) {
          const revoked = await markRevoked(tx, cmd.clientId, cmd.reason);
          await emit(
            IdentityEvents.ClientRevoked,
            {
              clientId: revoked.client_id,
              reason: cmd.reason,
              occurredAt: toTimestamp(revoked.revoked_at ?? new Date()),
            },
            { key: revoked.client_id, subject: revoked.client_id },
          );
        }
        return this.visibleOrNotFound(tx, claims, cmd.clientId);
      },
      replay: ({ client: tx }) => this.visibleOrNotFound(tx, claims, cmd.clientId),
    });
    if (client.status === CLIENT_REVOKED) {
      await this.revocations.revoke(
        client.client_id,
        this.config.TOKEN_TTL_SECONDS + REVOCATION_MARGIN_SECONDS,
      );
    }
    return client;
  }

  async get(claims: CitybaseClaims, clientId: string): Promise<ClientRow> {
    return this.visibleOrNotFound(this.pool, claims, clientId);
  }

  async list(
    claims: CitybaseClaims,
    query: ListClientsQuery,
  ): Promise<{ clients: ClientRow[]; nextPageToken: string }> {
    if (query.after !== undefined && !(await clientExists(this.pool, query.after))) {
      throw DomainError.invalid(PAGE_TOKEN_FIELD, PAGE_TOKEN_RULE);
    }
    const vis = await this.visibility(this.pool, claims);
    const rows = await listVisibleClients(this.pool, vis, query.pageSize + 1, query.after);
    const { rows: clients, nextPageToken } = pageOf(rows, query.pageSize, CLIENTS_PAGE, (c) => [c.client_id]);
    return { clients, nextPageToken };
  }

  /** A client outside the caller's tenancy is NOT_FOUND, exactly as one that does not exist. */
  private async visibleOrNotFound(
    db: Pool | Parameters<typeof findVisibleClient>[0],
    claims: CitybaseClaims,
    clientId: string,
    forUpdate = false,
  ): Promise<ClientRow> {
    const row = await findVisibleClient(db, await this.visibility(db, claims), clientId, { forUpdate });
    if (!row) throw DomainError.notFound('client', clientId, 'CLIENT_NOT_FOUND');
    return row;
  }

  /**
   * Whose clients the caller sees: all for an unrestricted city admin; otherwise the clients inside
   * the caller's operators and its projects, a project of one of the caller's operators counting as
   * the caller's (read through TenancyService, only when the caller has operators).
   */
  private async visibility(
    db: Pool | Parameters<typeof findVisibleClient>[0],
    claims: Pick<CitybaseClaims, 'scope' | 'tenancy'>,
  ): Promise<ClientVisibility> {
    const filter = tenancyFilter(claims);
    if (filter.all) return { all: true };
    // Tokens we issue carry UUIDs only; anything else cannot match a uuid column anyway.
    const operatorIds = filter.operatorIds.filter((id) => UUID.test(id));
    const projectIds = new Set(filter.projectIds.filter((id) => UUID.test(id)));
    if (operatorIds.length > 0) {
      for (const id of await this.tenancy.projectsOfOperators(db, operatorIds)) projectIds.add(id);
    }
    return { all: false, operatorIds, projectIds: [...projectIds] };
  }

  /** The client a request key of CreateClient points at (it was created under that key). */
  private async byInternalId(
    db: Parameters<typeof findClientByInternalId>[0],
    internalId: string,
  ): Promise<ClientRow> {
    const row = await findClientByInternalId(db, internalId);
    if (!row) throw new Error(`client ${internalId} not found after its creation`);
    return row;
  }

  /** 120 random bits never collide in practice; checked anyway, since the id is the primary key. */
  private async unusedClientId(db: Parameters<typeof clientExists>[0]): Promise<string> {
    for (;;) {
      const id = newClientId();
      if (!(await clientExists(db, id))) return id;
    }
  }
}
