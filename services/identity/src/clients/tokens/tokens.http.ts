import { randomUUID } from 'node:crypto';
import { Controller, Get, Inject, Post, Req, Res } from '@nestjs/common';
import type { Request, Response } from 'express';
import { DomainError, InfrastructureError, LOGGER, type Logger } from '@citybase/platform';
import { KeyRing } from '../keys/key-ring';
import { type TokenRequest, TokenErrorCodes, TokensService } from './tokens.service';

/** RFC 6749 §5.2 error codes (plus the 5xx ones we answer when we cannot decide). */
type OAuthError =
  | 'invalid_request'
  | 'invalid_client'
  | 'unsupported_grant_type'
  | 'invalid_scope'
  | 'temporarily_unavailable'
  | 'server_error';

class OAuthRequestError extends Error {
  constructor(
    readonly error: OAuthError,
    description: string,
  ) {
    super(description);
  }
}

const FORM = 'application/x-www-form-urlencoded';
const PARAMS = ['grant_type', 'client_id', 'client_secret', 'scope'] as const;

/**
 * Identity's HTTP endpoints on the service's HTTP port: the OAuth2 token endpoint (client
 * credentials, RFC 6749 §4.4) and the JWKS every service verifies tokens with.
 */
@Controller()
export class TokensHttp {
  constructor(
    private readonly tokens: TokensService,
    private readonly keys: KeyRing,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  @Get('.well-known/jwks.json')
  async jwks(@Res() res: Response): Promise<void> {
    const doc = await this.keys.jwks();
    res.status(200).set('Cache-Control', 'public, max-age=60').json(doc);
  }

  @Post('oauth/token')
  async token(@Req() req: Request, @Res() res: Response): Promise<void> {
    res.set('Cache-Control', 'no-store').set('Pragma', 'no-cache');
    let usedBasic = false;
    try {
      const { request, basic } = readTokenRequest(req);
      usedBasic = basic;
      const issued = await this.tokens.issue(request);
      res.status(200).json({
        access_token: issued.accessToken,
        token_type: issued.tokenType,
        expires_in: issued.expiresIn,
        scope: issued.scope,
      });
    } catch (err) {
      const { status, error, description } = this.toOAuthError(err);
      if (error === 'invalid_client' && usedBasic) res.set('WWW-Authenticate', 'Basic realm="citybase"');
      res.status(status).json({ error, error_description: description });
    }
  }

  private toOAuthError(err: unknown): { status: number; error: OAuthError; description: string } {
    if (err instanceof OAuthRequestError)
      return { status: 400, error: err.error, description: safe(err.message) };
    if (err instanceof DomainError) {
      if (err.kind === 'unauthenticated' || err.code === TokenErrorCodes.credentialsMissing) {
        return { status: 401, error: 'invalid_client', description: safe(err.message) };
      }
      if (err.code === TokenErrorCodes.unsupportedGrantType) {
        return { status: 400, error: 'unsupported_grant_type', description: safe(err.message) };
      }
      if (err.code === TokenErrorCodes.invalidScope) {
        return { status: 400, error: 'invalid_scope', description: safe(err.message) };
      }
      if (err.kind === 'invalid_argument') {
        return { status: 400, error: 'invalid_request', description: safe(err.message) };
      }
    }
    if (err instanceof InfrastructureError) {
      return { status: 503, error: 'temporarily_unavailable', description: 'try again shortly' };
    }
    const errorId = randomUUID();
    this.logger.error({ err, error_id: errorId }, 'unhandled error in the token endpoint');
    return { status: 500, error: 'server_error', description: `internal error ${errorId}` };
  }
}

/**
 * The grant's parameters from a form body, and the client credentials either from HTTP Basic
 * (RFC 6749 §2.3.1: form-urlencoded id and secret) or from the body, never both.
 */
export function readTokenRequest(req: Request): { request: TokenRequest; basic: boolean } {
  if (!req.is(FORM)) throw new OAuthRequestError('invalid_request', `the body must be ${FORM}`);
  const body = (req.body ?? {}) as Record<string, unknown>;
  for (const name of ['client_secret', 'client_id']) {
    if (name in ((req.query ?? {}) as Record<string, unknown>)) {
      throw new OAuthRequestError('invalid_request', `${name} must not be sent in the URL`);
    }
  }
  const param = (name: (typeof PARAMS)[number]): string | undefined => {
    const v = body[name];
    if (v === undefined) return undefined;
    if (typeof v !== 'string')
      throw new OAuthRequestError('invalid_request', `parameter ${name} must be given once`);
    return v;
  };
  const fields = Object.fromEntries(PARAMS.map((p) => [p, param(p)])) as Record<
    (typeof PARAMS)[number],
    string | undefined
  >;
  const authorization = req.headers.authorization;
  const basic = authorization !== undefined && /^basic /i.test(authorization);
  let clientId = fields.client_id;
  let clientSecret = fields.client_secret;
  if (basic) {
    if (clientId !== undefined || clientSecret !== undefined) {
      throw new OAuthRequestError(
        'invalid_request',
        'client credentials given both in Basic auth and in the body',
      );
    }
    ({ clientId, clientSecret } = parseBasic(authorization));
  } else if (authorization !== undefined) {
    throw new OAuthRequestError('invalid_request', 'only Basic client authentication is supported');
  }
  return {
    request: { grantType: fields.grant_type, clientId, clientSecret, scope: fields.scope },
    basic,
  };
}

function parseBasic(header: string): { clientId: string; clientSecret: string } {
  const encoded = header.slice('basic '.length).trim();
  if (encoded.length > 1024 || !/^[A-Za-z0-9+/]+=*$/.test(encoded)) {
    throw new OAuthRequestError('invalid_request', 'malformed Basic credentials');
  }
  const decoded = Buffer.from(encoded, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) throw new OAuthRequestError('invalid_request', 'malformed Basic credentials');
  try {
    return {
      clientId: formDecode(decoded.slice(0, colon)),
      clientSecret: formDecode(decoded.slice(colon + 1)),
    };
  } catch {
    throw new OAuthRequestError('invalid_request', 'malformed Basic credentials');
  }
}

function formDecode(v: string): string {
  return decodeURIComponent(v.replace(/\+/g, ' '));
}

/** error_description may only hold %x20-21 / %x23-5B / %x5D-7E (RFC 6749 §5.2). */
function safe(text: string): string {
  return text.replace(/[^\x20\x21\x23-\x5b\x5d-\x7e]/g, "'");
}
