import { Inject, Injectable } from '@nestjs/common';
import Redis from 'ioredis';
import { rpcAuthDeclarations } from '@citybase/contracts/rpc-auth';
import { loadDescriptorSet } from '@citybase/contracts/descriptors';
import {
  CitybaseClaims,
  ClientRevocations,
  JwksCache,
  LOGGER,
  Logger,
  REDIS,
  RpcAuthenticator,
  SERVICE_CONFIG,
} from '@citybase/platform';
import type { DataConfig } from '../config';

/** The dashboard's scope: what a sign-in token must carry (the same as AnalyticsService's RPCs). */
export const DASHBOARD_SCOPE = 'data:read';
/** The cookie the dashboard keeps the signed-in operator's access token in. */
export const SESSION_COOKIE = 'citybase_dashboard';

/**
 * Verifies dashboard requests with the platform's authenticator (identity's JWKS, the city, the
 * issuer, revoked clients), as gRPC calls are: from `Authorization: Bearer` or the session cookie.
 * Sign-in exchanges the operator's client credentials for an access token at identity's token
 * endpoint (POST /oauth/token): the dashboard never sees a password of its own.
 */
@Injectable()
export class DashboardAuth {
  private readonly authenticator: RpcAuthenticator;

  constructor(
    @Inject(SERVICE_CONFIG) private readonly config: DataConfig,
    @Inject(REDIS) redis: Redis,
    @Inject(LOGGER) logger: Logger,
  ) {
    this.authenticator = new RpcAuthenticator({
      declarations: rpcAuthDeclarations(loadDescriptorSet()),
      keys: new JwksCache({
        url: config.AUTH_JWKS_URL,
        onRefreshError: (err) => logger.warn({ err, url: config.AUTH_JWKS_URL }, 'JWKS fetch failed'),
      }),
      city: config.CITY_ID,
      issuer: config.AUTH_TOKEN_ISSUER,
      revocations: new ClientRevocations(redis, config.CITY_ID),
    });
  }

  /** The token of a request: its Authorization header, else the session cookie. */
  tokenOf(headers: Record<string, string | string[] | undefined>): string | undefined {
    const auth = headers['authorization'];
    if (typeof auth === 'string' && auth !== '') return auth;
    const cookie = typeof headers['cookie'] === 'string' ? headers['cookie'] : '';
    for (const part of cookie.split(';')) {
      const [k, ...v] = part.trim().split('=');
      if (k === SESSION_COOKIE && v.length > 0) return `Bearer ${decodeURIComponent(v.join('='))}`;
    }
    return undefined;
  }

  verify(authorization: string | undefined): Promise<CitybaseClaims> {
    return this.authenticator.authenticateHttp(authorization, DASHBOARD_SCOPE);
  }

  /** Asks identity for a token for these client credentials; answers identity's status and body. */
  async signIn(
    clientId: string,
    clientSecret: string,
  ): Promise<{ status: number; body: Record<string, unknown> }> {
    const res = await fetch(this.config.DATA_IDENTITY_TOKEN_URL, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'client_credentials',
        client_id: clientId,
        client_secret: clientSecret,
        scope: DASHBOARD_SCOPE,
      }).toString(),
      signal: AbortSignal.timeout(10_000),
    });
    return { status: res.status, body: (await res.json().catch(() => ({}))) as Record<string, unknown> };
  }
}
