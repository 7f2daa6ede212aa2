import type Redis from 'ioredis';
import { InfrastructureError } from '../errors';

/** Answers whether the API client a token was issued to has been revoked since. */
export interface RevocationCheck {
  isRevoked(clientId: string): Promise<boolean>;
}

/**
 * Revoked API clients, shared by every service of a city through Redis, so that revoking a client
 * refuses its still-unexpired tokens on the very next call anywhere (identity refuses new tokens from
 * its database). One key per client, `citybase:<city>:revoked-client:<id>`, that expires once every
 * token the client could still hold has expired (identity passes the token lifetime plus a margin).
 * A Redis failure is UNAVAILABLE, never "not revoked": the check fails closed.
 */
export class ClientRevocations implements RevocationCheck {
  constructor(
    private readonly redis: Redis,
    private readonly city: string,
  ) {}

  async revoke(clientId: string, ttlSeconds: number): Promise<void> {
    if (!Number.isInteger(ttlSeconds) || ttlSeconds <= 0)
      throw new Error('revoke: ttlSeconds must be a positive integer');
    await this.call(() => this.redis.set(this.key(clientId), String(Date.now()), 'EX', ttlSeconds));
  }

  async isRevoked(clientId: string): Promise<boolean> {
    return (await this.call(() => this.redis.exists(this.key(clientId)))) === 1;
  }

  private key(clientId: string): string {
    return `citybase:${this.city}:revoked-client:${clientId}`;
  }

  private async call<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      throw new InfrastructureError('unavailable', 'the revocation list (Redis) is unavailable', err);
    }
  }
}
