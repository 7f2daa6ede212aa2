import { randomUUID } from 'node:crypto';
import { createServer, Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Metadata } from '@grpc/grpc-js';
import { generateSigningKey, SigningKey, toJwks } from '../auth/jwks';
import { base64urlEncode } from '../auth/jwt';
import { signJwtSync } from './sign-jwt-sync';

export interface TestTokenOptions {
  /** Scope tokens; default none. */
  scopes?: string[];
  /** Tenancy subtree; both empty = the whole city (only with scope city:admin). */
  operators?: string[];
  projects?: string[];
  /** Client id; default a fresh "test-client-<uuid>". */
  sub?: string;
  /** Default "test-city" (what spawnService gives services as CITY_ID). */
  city?: string;
  /** Seconds from now; negative for an already expired token. Default 300. */
  expiresIn?: number;
  /** Extra or overriding claims (e.g. a malformed tenancy). */
  claims?: Record<string, unknown>;
}

/**
 * A stand-in for identity's token endpoint in tests of other services: a real P-256 key, its JWKS
 * served over HTTP (give the service AUTH_JWKS_URL = jwksUrl), and tokens signed exactly as identity
 * signs them (synchronously: signJwtSync). Services verify these through the same guard and JwksCache as in production. It also
 * makes the broken tokens the authorization matrix needs.
 */
export class TestIssuer {
  private keys: SigningKey[] = [generateSigningKey()];

  private constructor(
    private readonly server: Server,
    readonly jwksUrl: string,
  ) {}

  static async start(): Promise<TestIssuer> {
    const self: { issuer?: TestIssuer } = {};
    const server = createServer((req, res) => {
      if (req.url === '/.well-known/jwks.json' && self.issuer) {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify(toJwks(self.issuer.keys.map((k) => k.publicJwk))));
      } else {
        res.writeHead(404).end();
      }
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    self.issuer = new TestIssuer(server, `http://127.0.0.1:${port}/.well-known/jwks.json`);
    return self.issuer;
  }

  /** A token signed by the current key. */
  token(opts: TestTokenOptions = {}): string {
    const key = this.keys[0];
    if (!key) throw new Error('TestIssuer: no key');
    return signJwtSync(this.payload(opts), { privateKey: key.privateKey, kid: key.kid });
  }

  /** gRPC metadata carrying `authorization: Bearer <token(opts)>`. */
  metadata(opts: TestTokenOptions = {}): Metadata {
    return bearer(this.token(opts));
  }

  /** A new current key; the old ones stay published (as identity does while their tokens live). */
  rotate(): void {
    this.keys.unshift(generateSigningKey());
  }

  /** A token signed by a key that is not in the JWKS. */
  tokenFromUnknownKey(opts: TestTokenOptions = {}): string {
    const stranger = generateSigningKey();
    return signJwtSync(this.payload(opts), { privateKey: stranger.privateKey, kid: stranger.kid });
  }

  /** An unsigned token with `alg: none` (RFC 7519 §6), which must never be accepted. */
  tokenAlgNone(opts: TestTokenOptions = {}): string {
    const header = base64urlEncode(JSON.stringify({ alg: 'none', typ: 'JWT', kid: this.keys[0]?.kid }));
    return `${header}.${base64urlEncode(JSON.stringify(this.payload(opts)))}.`;
  }

  /** A valid token whose payload was then changed (widened scopes), keeping the old signature. */
  tokenTampered(
    opts: TestTokenOptions = {},
    change: Record<string, unknown> = { scope: 'city:admin' },
  ): string {
    const [h, , s] = this.token(opts).split('.');
    const payload = { ...this.payload(opts), ...change };
    return `${h}.${base64urlEncode(JSON.stringify(payload))}.${s}`;
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private payload(opts: TestTokenOptions): Record<string, unknown> {
    const now = Math.floor(Date.now() / 1000);
    return {
      sub: opts.sub ?? `test-client-${randomUUID()}`,
      scope: (opts.scopes ?? []).join(' '),
      city: opts.city ?? 'test-city',
      tenancy: {
        ...(opts.operators && { operators: opts.operators }),
        ...(opts.projects && { projects: opts.projects }),
      },
      iat: now,
      exp: now + (opts.expiresIn ?? 300),
      jti: randomUUID(),
      iss: 'citybase-identity',
      ...opts.claims,
    };
  }
}

/** gRPC metadata with `authorization: Bearer <token>`. */
export function bearer(token: string): Metadata {
  const md = new Metadata();
  md.set('authorization', `Bearer ${token}`);
  return md;
}
