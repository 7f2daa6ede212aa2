import { randomUUID } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import {
  type CitybaseClaims,
  DomainError,
  LOGGER,
  type Logger,
  PG_POOL,
  type Pool,
  SCOPE_TOKEN,
  SERVICE_CONFIG,
  signJwt,
} from '@citybase/platform';
import type { IdentityConfig } from '../../config';
import { CLIENT_ID_PATTERN, type ClientSecretHasher } from '../client-secret';
import { CLIENT_SECRET_HASHER } from '../clients.di';
import { CLIENT_ACTIVE, type ClientCredentialsRow, upgradeSecretHash } from '../clients.store';
import { KeyRing } from '../keys/key-ring';
import { CredentialsLookup } from './credentials-lookup';

export const CLIENT_CREDENTIALS_GRANT = 'client_credentials';
export const MAX_CLIENT_ID_LENGTH = 100;
export const MAX_CLIENT_SECRET_LENGTH = 200;
export const MAX_SCOPE_PARAM_LENGTH = 4000;

/** Error codes of token issuance; the HTTP endpoint maps them to RFC 6749 §5.2 error names. */
export const TokenErrorCodes = {
  /** Unknown client, wrong secret or revoked client: one answer, no hint which. */
  invalidClient: 'INVALID_CLIENT',
  /** No client id or no secret presented at all. */
  credentialsMissing: 'CLIENT_CREDENTIALS_MISSING',
  unsupportedGrantType: 'UNSUPPORTED_GRANT_TYPE',
  invalidScope: 'INVALID_SCOPE',
  invalidRequest: 'INVALID_REQUEST',
} as const;

export interface TokenRequest {
  grantType: string | undefined;
  clientId: string | undefined;
  clientSecret: string | undefined;
  /** Space-separated; empty or absent: every scope of the client. */
  scope: string | undefined;
}

export interface IssuedToken {
  accessToken: string;
  tokenType: 'Bearer';
  expiresIn: number;
  scope: string;
}

function invalid(field: string, rule: string, code: string): DomainError {
  return DomainError.invalid(field, rule, code);
}

/** A presented client id or secret: CLIENT_CREDENTIALS_MISSING when absent, INVALID_REQUEST when too long. */
function credential(field: string, value: string | undefined, maxLength: number): string {
  const text = value ?? '';
  if (text === '') throw invalid(field, 'is required', TokenErrorCodes.credentialsMissing);
  if (text.length > maxLength) {
    throw invalid(field, `must be at most ${maxLength} characters`, TokenErrorCodes.invalidRequest);
  }
  return text;
}

/**
 * The OAuth2 client-credentials grant (RFC 6749 §4.4), shared by TokenService.IssueToken (gRPC) and
 * POST /oauth/token (HTTP). Input is checked before the database is touched; then the secret is
 * checked against its keyed hash (also for unknown clients, against a dummy hash, so the time taken
 * says nothing; a legacy scrypt hash is replaced by the keyed form once its secret matched); then an
 * ES256 token is signed with the current key.
 */
@Injectable()
export class TokensService {
  constructor(
    @Inject(PG_POOL) private readonly pool: Pool,
    @Inject(SERVICE_CONFIG) private readonly config: IdentityConfig,
    @Inject(LOGGER) private readonly logger: Logger,
    private readonly keys: KeyRing,
    private readonly credentials: CredentialsLookup,
    @Inject(CLIENT_SECRET_HASHER) private readonly secrets: ClientSecretHasher,
  ) {}

  async issue(req: TokenRequest): Promise<IssuedToken> {
    const grantType = req.grantType ?? '';
    if (grantType === '') throw invalid('grant_type', 'is required', TokenErrorCodes.invalidRequest);
    if (grantType !== CLIENT_CREDENTIALS_GRANT) {
      throw invalid(
        'grant_type',
        `must be ${CLIENT_CREDENTIALS_GRANT}`,
        TokenErrorCodes.unsupportedGrantType,
      );
    }
    const clientId = credential('client_id', req.clientId, MAX_CLIENT_ID_LENGTH);
    const secret = credential('client_secret', req.clientSecret, MAX_CLIENT_SECRET_LENGTH);
    const requested = parseScopeParam(req.scope);

    const client = await this.credentials.find(clientId);
    const matches = await this.secrets.verify(secret, client?.secret_hash ?? this.secrets.unknownClientHash);
    if (!client || !matches || client.status !== CLIENT_ACTIVE) {
      // The caller learns nothing more than "invalid_client"; operators see why. An unknown id is
      // logged only if it looks like one of ours (people paste secrets into the wrong field).
      const reason = !client ? 'unknown_client' : !matches ? 'wrong_secret' : 'client_revoked';
      this.logger.info(
        { client_id: client || CLIENT_ID_PATTERN.test(clientId) ? clientId : '(malformed)', reason },
        'token refused',
      );
      throw new DomainError('unauthenticated', TokenErrorCodes.invalidClient, 'client authentication failed');
    }
    if (!this.secrets.isCurrent(client.secret_hash)) await this.upgradeLegacyHash(client, secret);
    requested?.forEach((scope) => {
      if (!client.scopes.includes(scope)) {
        throw invalid('scope', `the client does not hold scope ${scope}`, TokenErrorCodes.invalidScope);
      }
    });
    const granted = requested ?? client.scopes;

    const { kid, privateKey } = await this.keys.signingKey();
    const iat = Math.floor(Date.now() / 1000);
    const ttl = this.config.TOKEN_TTL_SECONDS;
    const claims: CitybaseClaims = {
      sub: client.client_id,
      scope: granted.join(' '),
      city: this.config.CITY_ID,
      tenancy: { operators: client.operator_ids, projects: client.project_ids },
      iat,
      exp: iat + ttl,
      jti: randomUUID(),
      iss: this.config.TOKEN_ISSUER,
    };
    const accessToken = await signJwt({ ...claims }, { privateKey, kid });
    this.logger.info({ client_id: claims.sub, jti: claims.jti, kid, scope: claims.scope }, 'token issued');
    return { accessToken, tokenType: 'Bearer', expiresIn: ttl, scope: claims.scope };
  }

  /**
   * Rewrites a legacy hash in the current form, now that the secret is known to match it. Best
   * effort: a failure is logged and the token is issued anyway (the next request tries again).
   */
  private async upgradeLegacyHash(client: ClientCredentialsRow, secret: string): Promise<void> {
    try {
      const upgraded = await upgradeSecretHash(
        this.pool,
        client.client_id,
        client.secret_hash,
        this.secrets.hash(secret),
      );
      this.logger.info(
        { client_id: client.client_id },
        upgraded
          ? 'client secret hash upgraded'
          : 'client secret hash not upgraded: the row changed meanwhile',
      );
    } catch (err) {
      this.logger.warn(
        { client_id: client.client_id, err: (err as Error).message },
        'client secret hash upgrade failed',
      );
    }
  }
}

/** The `scope` parameter (RFC 6749 §3.3): space-separated tokens, repeats collapsed. Undefined if empty. */
export function parseScopeParam(value: string | undefined): string[] | undefined {
  const text = value ?? '';
  if (text.length > MAX_SCOPE_PARAM_LENGTH) {
    throw invalid(
      'scope',
      `must be at most ${MAX_SCOPE_PARAM_LENGTH} characters`,
      TokenErrorCodes.invalidScope,
    );
  }
  if (text.trim() === '') return undefined;
  if (!/^[^ ]+( [^ ]+)*$/.test(text)) {
    throw invalid('scope', 'must be scope tokens separated by single spaces', TokenErrorCodes.invalidScope);
  }
  const tokens = text.split(' ');
  tokens.forEach((t) => {
    if (!SCOPE_TOKEN.test(t)) {
      throw invalid(
        'scope',
        'contains a malformed scope token (printable ASCII without spaces, " or \\)',
        TokenErrorCodes.invalidScope,
      );
    }
  });
  return [...new Set(tokens)];
}
