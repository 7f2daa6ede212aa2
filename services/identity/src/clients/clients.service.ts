import { Inject, Injectable } from '@nestjs/common';
import {
  type CitybaseClaims,
  ClientRevocations,
  DomainError,
  LOGGER,
  type Logger,
  OUTBOX,
  type Outbox,
  PAGE_TOKEN_FIELD,
  PAGE_TOKEN_RULE,
  pageOf,
  PG_POOL,
  type Pool,
  SERVICE_CONFIG,
  toTimestamp,
  withTransaction,
} from '@citybase/platform';
import { IdentityEvents } from '@citybase/contracts/events';
import type { IdentityConfig } from '../config';
import { onceByRequestId } from '@citybase/platform';
import { hashClientSecret, newClientId, newClientSecret } from './client-secret';
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
  clientExists,
  existingOperators,
  findClientByInternalId,
  findVisibleClient,
  insertClient,
  listVisibleClients,
  markRevoked,
  projectOperators,
  updateSecretHash,
} from './clients.store';
import { CLIENT_REVOCATIONS } from './clients.tokens';

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
    @Inject(OUTBOX) private readonly outbox: Outbox,
    @Inject(LOGGER) private readonly logger: Logger,
    @Inject(SERVICE_CONFIG) private readonly config: IdentityConfig,
    @Inject(CLIENT_REVOCATIONS) private readonly revocations: ClientRevocations,
  ) {}

  /**
   * Creates a client whose scopes the caller holds and whose tenancy lies inside the caller's. The
   * secret is returned once; only its scrypt hash is stored. Idempotent by request id (a replay
   * returns the client with an empty secret).
   */
  async create(claims: CitybaseClaims, cmd: CreateClientCommand): Promise<ClientWithSecret> {
    assertScopesHeld(claims, cmd.scopes);
    // Hash before the transaction: scrypt is slow on purpose and must not hold a connection.
    const secret = newClientSecret();
    const secretHash = await hashClientSecret(secret);
    const { internalId, replayed } = await withTransaction(this.pool, async (client) => {
      const operators = await existingOperators(client, cmd.operatorIds);
      cmd.operatorIds.forEach((id, i) => {
        if (!operators.has(id))
          throw DomainError.invalid(`tenancy.operator_ids[${i}]`, `unknown operator ${id}`);
      });
      const projects = await projectOperators(client, cmd.projectIds);
      cmd.projectIds.forEach((id, i) => {
        if (!projects.has(id))
          throw DomainError.invalid(`tenancy.project_ids[${i}]`, `unknown project ${id}`);
      });
      assertTenancyInside(claims, cmd, projects);
      const { requestId, ...command } = cmd;
      const once = await onceByRequestId(
        client,
        { clientId: claims.sub, method: 'ClientService.CreateClient', requestId, command },
        async (id) => {
          const created = await insertClient(client, {
            clientId: await this.unusedClientId(client),
            internalId: id,
            name: cmd.name,
            scopes: cmd.scopes,
            operatorIds: cmd.operatorIds,
            projectIds: cmd.projectIds,
            secretHash,
            createdByClientId: claims.sub,
          });
          await this.outbox.enqueue(
            client,
            IdentityEvents.ClientCreated,
            {
              clientId: created.client_id,
              name: created.name,
              scopes: created.scopes,
              operatorIds: created.operator_ids,
              projectIds: created.project_ids,
              createdByClientId: claims.sub,
              occurredAt: toTimestamp(created.created_at),
            },
            { key: created.client_id, subject: created.client_id },
          );
        },
      );
      return { internalId: once.resourceId, replayed: once.replayed };
    });
    const created = await findClientByInternalId(this.pool, internalId);
    if (!created) throw new Error(`client ${internalId} not found after commit`);
    if (!replayed) {
      this.logger.info(
        { client_id: created.client_id, scopes: created.scopes, by: claims.sub },
        'api client created',
      );
    }
    return { client: created, secret: replayed ? '' : secret };
  }

  /** A new secret; the old one stops working at once. Idempotent (a replay returns an empty secret). */
  async rotateSecret(claims: CitybaseClaims, cmd: RotateClientSecretCommand): Promise<ClientWithSecret> {
    const secret = newClientSecret();
    const secretHash = await hashClientSecret(secret);
    const { client, replayed } = await withTransaction(this.pool, async (tx) => {
      const once = await onceByRequestId(
        tx,
        {
          clientId: claims.sub,
          method: 'ClientService.RotateClientSecret',
          requestId: cmd.requestId,
          command: { clientId: cmd.clientId },
        },
        async () => {
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
          await this.outbox.enqueue(
            tx,
            IdentityEvents.ClientSecretRotated,
            { clientId: updated.client_id, occurredAt: toTimestamp(updated.secret_rotated_at ?? new Date()) },
            { key: updated.client_id, subject: updated.client_id },
          );
        },
      );
      return { client: await this.visibleOrNotFound(tx, claims, cmd.clientId), replayed: once.replayed };
    });
    if (!replayed)
      this.logger.info({ client_id: client.client_id, by: claims.sub }, 'api client secret rotated');
    return { client, secret: replayed ? '' : secret };
  }

  /**
   * Revokes a client: no new tokens (token issuance reads the status), and its unexpired tokens are
   * refused by every service from the next call on (the shared revocation list in Redis, written
   * after the commit; if Redis fails the RPC fails and the caller retries, which rewrites it).
   * Revoking a revoked client changes nothing and publishes nothing, but rewrites the list entry.
   */
  async revoke(claims: CitybaseClaims, cmd: RevokeClientCommand): Promise<ClientRow> {
    const { client, revokedNow } = await withTransaction(this.pool, async (tx) => {
      let revokedNow = false;
      await onceByRequestId(
        tx,
        {
          clientId: claims.sub,
          method: 'ClientService.RevokeClient',
          requestId: cmd.requestId,
          command: { clientId: cmd.clientId, reason: cmd.reason },
        },
        async () => {
          const current = await this.visibleOrNotFound(tx, claims, cmd.clientId, true);
          if (current.status === CLIENT_REVOKED) return;
          const revoked = await markRevoked(tx, cmd.clientId, cmd.reason);
          await this.outbox.enqueue(
            tx,
            IdentityEvents.ClientRevoked,
            {
              clientId: revoked.client_id,
              reason: cmd.reason,
              occurredAt: toTimestamp(revoked.revoked_at ?? new Date()),
            },
            { key: revoked.client_id, subject: revoked.client_id },
          );
          revokedNow = true;
        },
      );
      return { client: await this.visibleOrNotFound(tx, claims, cmd.clientId), revokedNow };
    });
    if (client.status === CLIENT_REVOKED) {
      await this.revocations.revoke(
        client.client_id,
        this.config.TOKEN_TTL_SECONDS + REVOCATION_MARGIN_SECONDS,
      );
    }
    if (revokedNow) this.logger.info({ client_id: client.client_id, by: claims.sub }, 'api client revoked');
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
    const rows = await listVisibleClients(this.pool, claims, query.pageSize + 1, query.after);
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
    const row = await findVisibleClient(db, claims, clientId, { forUpdate });
    if (!row) throw DomainError.notFound('client', clientId, 'CLIENT_NOT_FOUND');
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
