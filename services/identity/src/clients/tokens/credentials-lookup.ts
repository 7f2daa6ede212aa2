import { Inject, Injectable } from '@nestjs/common';
import { PG_POOL, type Pool } from '@citybase/platform';
import { type ClientCredentialsRow, findClientCredentials } from '../clients.store';

/** At most this many client ids in one lookup query; the rest go in the next. */
export const MAX_LOOKUP_BATCH = 100;
/**
 * At most this many lookup queries in flight at once. One would batch the most, but then every
 * request waits for the round trip before it even when the database is slow rather than busy.
 */
export const MAX_LOOKUPS_IN_FLIGHT = 2;

interface Waiter {
  resolve(row: ClientCredentialsRow | undefined): void;
  reject(err: unknown): void;
}

/**
 * Reads the credentials row of a client for token issuance, concurrent requests sharing one query:
 * while MAX_LOOKUPS_IN_FLIGHT lookup queries are in flight, the client ids asked for meanwhile wait
 * and go together in the next one (`client_id = ANY($1)`), as a group commit batches writes. A request is answered only by
 * a query sent after it arrived, so whatever committed before it (a rotated secret, a revoked
 * client, on any replica) is what it sees: nothing is cached. Under load, one round trip serves many
 * requests instead of one each (issue 11: the per-token query was the largest cost of issuance).
 */
@Injectable()
export class CredentialsLookup {
  private waiting = new Map<string, Waiter[]>();
  private inFlight = 0;

  constructor(@Inject(PG_POOL) private readonly pool: Pool) {}

  find(clientId: string): Promise<ClientCredentialsRow | undefined> {
    return new Promise((resolve, reject) => {
      const waiters = this.waiting.get(clientId);
      if (waiters) waiters.push({ resolve, reject });
      else this.waiting.set(clientId, [{ resolve, reject }]);
      if (this.inFlight < MAX_LOOKUPS_IN_FLIGHT) void this.drain();
    });
  }

  /** Sends one query per batch of waiting ids, until nobody waits. */
  private async drain(): Promise<void> {
    this.inFlight += 1;
    try {
      while (this.waiting.size > 0) {
        const batch = new Map<string, Waiter[]>();
        for (const [id, waiters] of this.waiting) {
          if (batch.size === MAX_LOOKUP_BATCH) break;
          batch.set(id, waiters);
        }
        for (const id of batch.keys()) this.waiting.delete(id);
        try {
          const rows = await findClientCredentials(this.pool, [...batch.keys()]);
          const byId = new Map(rows.map((row) => [row.client_id, row]));
          for (const [id, waiters] of batch) waiters.forEach((w) => w.resolve(byId.get(id)));
        } catch (err) {
          for (const waiters of batch.values()) waiters.forEach((w) => w.reject(err));
        }
      }
    } finally {
      this.inFlight -= 1;
    }
  }
}
