import { randomUUID } from 'node:crypto';
import {
  CITY_ADMIN_SCOPE,
  enqueue,
  type EventSource,
  type Pool,
  toTimestamp,
  withTransaction,
} from '@citybase/platform';
import { IdentityEvents } from '@citybase/contracts/events';
import { rpcAuthDeclarations } from '@citybase/contracts/rpc-auth';
import { type ClientSecretHasher, newClientId, newClientSecret } from './client-secret';
import { findActiveBootstrapAdmin, insertClient } from './clients.store';
import type { SigningKeyWrap } from './keys/key-wrap';
import { ensureSigningKeys } from './keys/signing-keys.store';

/** Scopes no RPC declares that the first admin needs too. */
export const BOOTSTRAP_EXTRA_SCOPES = [CITY_ADMIN_SCOPE, 'identity:pii.read', 'ops:admin'] as const;

/** Every scope any RPC of the contracts requires, plus BOOTSTRAP_EXTRA_SCOPES, sorted. */
export function bootstrapAdminScopes(): string[] {
  const scopes = new Set<string>(BOOTSTRAP_EXTRA_SCOPES);
  for (const d of rpcAuthDeclarations().values()) if (d.requiredScope) scopes.add(d.requiredScope);
  return [...scopes].sort();
}

export class BootstrapAdminExists extends Error {
  constructor(readonly clientId: string) {
    super(`an active bootstrap admin client already exists (${clientId}); revoke it before creating another`);
    this.name = 'BootstrapAdminExists';
  }
}

/**
 * The first admin client of a city: every scope, the whole city (empty tenancy), created by nobody.
 * At most one active at a time (a unique index backs the check), so its secret is shown exactly once.
 * Also makes sure the signing keys exist, so tokens can be issued right away.
 */
export async function createBootstrapAdmin(
  pool: Pool,
  opts: { name: string; wrap: SigningKeyWrap; secrets: ClientSecretHasher; events: EventSource },
): Promise<{ clientId: string; clientSecret: string }> {
  await withTransaction(pool, (client) => ensureSigningKeys(client, opts.wrap));
  const existing = await findActiveBootstrapAdmin(pool);
  if (existing) throw new BootstrapAdminExists(existing);
  const secret = newClientSecret();
  const secretHash = opts.secrets.hash(secret);
  try {
    const created = await withTransaction(pool, async (client) => {
      const row = await insertClient(client, {
        clientId: newClientId(),
        internalId: randomUUID(),
        name: opts.name,
        scopes: bootstrapAdminScopes(),
        operatorIds: [],
        projectIds: [],
        secretHash,
        createdByClientId: null,
      });
      await enqueue(
        client,
        opts.events,
        IdentityEvents.ClientCreated,
        {
          clientId: row.client_id,
          name: row.name,
          scopes: row.scopes,
          operatorIds: [],
          projectIds: [],
          createdByClientId: '',
          occurredAt: toTimestamp(row.created_at),
        },
        { key: row.client_id, subject: row.client_id },
      );
      return row;
    });
    return { clientId: created.client_id, clientSecret: secret };
  } catch (err) {
    // a concurrent init-city won the race for the unique index
    if ((err as { constraint?: string }).constraint === 'api_clients_one_bootstrap') {
      const winner = await findActiveBootstrapAdmin(pool);
      throw new BootstrapAdminExists(winner ?? 'unknown');
    }
    throw err;
  }
}
