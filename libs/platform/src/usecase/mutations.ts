import { randomUUID } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import type { Pool, PoolClient } from 'pg';
import { assertTenancy, CitybaseClaims, inTenancy, TenancyRef } from '../auth';
import { withTransaction } from '../db/pool';
import { DomainError } from '../errors';
import type { Logger } from '../logging';
import type { EnqueueOptions, EventType } from '../messaging';
import { requestFingerprint } from '../validation/validate';
import type { Outbox } from '../service/run-service';
import { LOGGER, OUTBOX, PG_POOL } from '../service/tokens';

/**
 * The row a mutation acts on, loaded (and locked) inside the mutation's transaction before the
 * request key is claimed. Missing, it is `notFound()`; outside the caller's tenancy, by default
 * also `notFound()` (another tenant's row answers exactly like a missing one), or
 * PERMISSION_DENIED (TENANCY_FORBIDDEN) where the RPC's contract says so (`outsideTenancy:
 * 'forbidden'`). Either way nothing is written.
 */
export interface MutationTarget<T> {
  load(client: PoolClient): Promise<T | undefined>;
  tenancy(row: T): TenancyRef;
  notFound(): DomainError;
  outsideTenancy?: 'not-found' | 'forbidden';
}

/** What a mutation's steps get: its transaction, ids, and the outbox of that transaction. */
export interface MutationContext<T> {
  client: PoolClient;
  claims: CitybaseClaims;
  /** Id of what this request creates (or the id the mutation declared): stored with its key. */
  resourceId: string;
  /** The loaded target row (undefined when the mutation declares none). */
  target: T;
  /** Enqueues an event in this transaction (the transactional outbox). */
  emit<E>(type: EventType<E>, payload: E, opts: EnqueueOptions): Promise<void>;
  /** Adds fields to the mutation's one log line. */
  note(fields: Record<string, unknown>): void;
}

export interface Mutation<C, R, T = undefined> {
  /** "Service.Method", e.g. "TenancyService.CreateProject": part of the idempotency key. */
  method: string;
  claims: CitybaseClaims;
  /** The caller's request id; keys are per calling client (claims.sub) and method. */
  requestId: string;
  /** The validated command: its fingerprint tells a retry from a different request. */
  command: C;
  /** The resource's id when the command names it; default a fresh UUID for what is created. */
  resourceId?: string;
  target?: MutationTarget<T>;
  /** Runs once per key, in the transaction, after the key was claimed. */
  execute(ctx: MutationContext<T>): Promise<R>;
  /**
   * Answers a retry (same key, same request): the resource the first call made or changed, read
   * again (so it is rendered for the caller as it is now, masking by the caller's scopes).
   */
  replay(ctx: MutationContext<T>): Promise<R>;
  /** Message of the mutation's log line; default the method. */
  done?: string;
}

export interface MutationResult<R> {
  result: R;
  replayed: boolean;
  resourceId: string;
}

/**
 * The one pipeline every mutating use case goes through (docs/adr/0010-use-case-pipeline.md):
 *   1. one transaction (serialization failures and deadlocks retried by withTransaction);
 *   2. the target row, when declared, loaded under its lock and checked against the caller's
 *      tenancy (NOT_FOUND otherwise);
 *   3. the request key (client, method, request id) claimed in `idempotency_keys` with the
 *      request's fingerprint: first time, `execute`; same key and same request, `replay`; same key
 *      and another request, REQUEST_ID_REUSED (ALREADY_EXISTS). A concurrent duplicate blocks on
 *      the key row until the first commits (then replays) or rolls back (then executes);
 *   4. events through the transactional outbox (`ctx.emit`);
 *   5. one log line per mutation.
 * Anything thrown rolls back everything, key row included: a refused request writes nothing.
 */
@Injectable()
export class Mutations {
  constructor(
    @Inject(PG_POOL) private readonly pool: Pool,
    @Inject(OUTBOX) private readonly outbox: Outbox,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  async run<C, R, T = undefined>(m: Mutation<C, R, T>): Promise<R> {
    return (await this.runWithOutcome(m)).result;
  }

  /** Like run, also telling whether this call was a replay (e.g. to skip work after commit). */
  async runWithOutcome<C, R, T = undefined>(m: Mutation<C, R, T>): Promise<MutationResult<R>> {
    const started = process.hrtime.bigint();
    const fields: Record<string, unknown> = {};
    const outcome = await withTransaction(this.pool, async (client) => {
      let target = undefined as T;
      if (m.target) {
        const row = await m.target.load(client);
        if (row === undefined) throw m.target.notFound();
        if (m.target.outsideTenancy === 'forbidden') assertTenancy(m.claims, m.target.tenancy(row));
        else if (!inTenancy(m.claims, m.target.tenancy(row))) throw m.target.notFound();
        target = row;
      }
      const claimed = await claimRequestKey(client, {
        clientId: m.claims.sub,
        method: m.method,
        requestId: m.requestId,
        fingerprint: requestFingerprint(m.command),
        resourceId: m.resourceId ?? randomUUID(),
      });
      const ctx: MutationContext<T> = {
        client,
        claims: m.claims,
        resourceId: claimed.resourceId,
        target,
        emit: async (type, payload, opts) => {
          await this.outbox.enqueue(client, type, payload, opts);
        },
        note: (f) => Object.assign(fields, f),
      };
      const result = claimed.replayed ? await m.replay(ctx) : await m.execute(ctx);
      return { result, replayed: claimed.replayed, resourceId: claimed.resourceId };
    });
    this.logger.info(
      {
        method: m.method,
        client_id: m.claims.sub,
        request_id: m.requestId,
        resource_id: outcome.resourceId,
        replayed: outcome.replayed,
        duration_ms: Number(process.hrtime.bigint() - started) / 1e6,
        ...fields,
      },
      m.done ?? m.method,
    );
    return outcome;
  }
}

interface RequestKey {
  clientId: string;
  method: string;
  requestId: string;
  fingerprint: string;
  resourceId: string;
}

/**
 * Claims a request key in the caller's transaction (table `idempotency_keys`, platform migration
 * 0003). Inserting blocks on a concurrent transaction holding the same key until it ends; then the
 * key is either new (claimed) or committed by it (a replay of its resource, or a reused id).
 */
async function claimRequestKey(
  client: PoolClient,
  key: RequestKey,
): Promise<{ replayed: boolean; resourceId: string }> {
  const inserted = await client.query(
    `INSERT INTO idempotency_keys (client_id, method, request_id, fingerprint, resource_id)
     VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING`,
    [key.clientId, key.method, key.requestId, key.fingerprint, key.resourceId],
  );
  if (inserted.rowCount === 1) return { replayed: false, resourceId: key.resourceId };
  const { rows } = await client.query<{ fingerprint: string; resource_id: string }>(
    `SELECT fingerprint, resource_id FROM idempotency_keys
      WHERE client_id = $1 AND method = $2 AND request_id = $3`,
    [key.clientId, key.method, key.requestId],
  );
  const previous = rows[0];
  if (!previous) throw DomainError.requestInFlight();
  if (previous.fingerprint !== key.fingerprint) throw DomainError.requestIdReused();
  return { replayed: true, resourceId: previous.resource_id };
}
