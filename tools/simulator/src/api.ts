import { readFileSync } from 'node:fs';
import * as grpc from '@grpc/grpc-js';
import { declarationOf, Json, Reply, RpcClients } from './descriptor-rpc';

/**
 * Where the city's services answer: the variables deploy/local/start.sh sets (npm start's ports by
 * default). A service with several replicas (start.sh --replicas N) has them all, comma-separated
 * (`ipv4:host:port,host:port` or `host:port,host:port` for gRPC, descriptor-rpc.ts
 * replicaAddresses; `http://a,http://b` for identity's HTTP): calls fail over between them.
 */
export interface Endpoints {
  grpc: Record<'identity' | 'payment' | 'settlement' | 'points' | 'marketing' | 'iot' | 'data', string>;
  /** identity's HTTP port: POST /oauth/token (its replicas' ports, comma-separated). */
  identityHttp: string;
  /** The sandbox payment channel's HTTP port (docs/sandbox-channel.md). */
  sandbox: string;
  /** settlement's database, for its ledger check (services/settlement/dist/admin.js check-ledger). */
  settlementDatabase: string;
}

/** postgres://u@h:p/db?x -> postgres://u@h:p/citybase_<name>?x (what start.sh does). */
export function serviceDatabaseUrl(pgUrl: string, name: string): string {
  const q = pgUrl.indexOf('?');
  const base = q >= 0 ? pgUrl.slice(0, q) : pgUrl;
  const query = q >= 0 ? pgUrl.slice(q) : '';
  return `${base.slice(0, base.lastIndexOf('/'))}/citybase_${name}${query}`;
}

export function endpointsFromEnv(env: Record<string, string | undefined>): Endpoints {
  const g = (name: string, port: number) => env[`${name.toUpperCase()}_GRPC_URL`] || `127.0.0.1:${port}`;
  return {
    grpc: {
      identity: g('identity', 50051),
      payment: g('payment', 50052),
      settlement: g('settlement', 50053),
      points: g('points', 50054),
      marketing: g('marketing', 50055),
      iot: g('iot', 50056),
      data: g('data', 50057),
    },
    identityHttp: (env.IDENTITY_HTTP_URL || 'http://127.0.0.1:8081')
      .split(',')
      .map((u) => u.trim().replace(/\/+$/, ''))
      .filter(Boolean)
      .join(','),
    sandbox: (env.SANDBOX_URL || `http://127.0.0.1:${env.SANDBOX_PORT || 8090}`).replace(/\/+$/, ''),
    settlementDatabase:
      env.SETTLEMENT_DATABASE_URL ||
      serviceDatabaseUrl(env.PGURL || 'postgres://postgres@127.0.0.1:5432/postgres', 'settlement'),
  };
}

export interface ClientCredentials {
  client_id: string;
  client_secret: string;
}

export function readCredentials(file: string): ClientCredentials {
  const doc = JSON.parse(readFileSync(file, 'utf8')) as Partial<ClientCredentials>;
  if (typeof doc.client_id !== 'string' || typeof doc.client_secret !== 'string')
    throw new Error(`${file} must hold {"client_id": ..., "client_secret": ...}`);
  return { client_id: doc.client_id, client_secret: doc.client_secret };
}

/**
 * An access token of an API client, renewed a minute before it expires. With several identity
 * replicas (`identityHttp` comma-separated), a token request that gets no answer or a 5xx is made
 * again at the next one.
 */
export class TokenSource {
  private token = '';
  private expiresAt = 0;
  private pending?: Promise<string>;
  private readonly identityUrls: string[];
  private turn = 0;

  constructor(
    identityHttp: string,
    private readonly credentials: ClientCredentials,
  ) {
    this.identityUrls = identityHttp.split(',').filter(Boolean);
  }

  async get(): Promise<string> {
    if (this.token && Date.now() < this.expiresAt - 60_000) return this.token;
    this.pending ??= this.fetch().finally(() => (this.pending = undefined));
    return this.pending;
  }

  private async fetch(): Promise<string> {
    const basic = Buffer.from(
      `${encodeURIComponent(this.credentials.client_id)}:${encodeURIComponent(this.credentials.client_secret)}`,
    ).toString('base64');
    const post = (url: string) =>
      fetch(`${url}/oauth/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${basic}` },
        body: new URLSearchParams({ grant_type: 'client_credentials' }).toString(),
        signal: AbortSignal.timeout(30_000),
      });
    let res: Response | undefined;
    for (let i = 0; i < this.identityUrls.length; i++) {
      const url = this.identityUrls[this.turn++ % this.identityUrls.length]!;
      const last = i + 1 === this.identityUrls.length;
      try {
        res = await post(url);
      } catch (err) {
        if (last) throw err;
        continue; // that replica is down: the next one
      }
      if (res.status < 500 || last) break;
    }
    if (!res) throw new Error('no identity HTTP address');
    const body = (await res.json().catch(() => ({}))) as { access_token?: string; expires_in?: number };
    if (res.status !== 200 || !body.access_token)
      throw new Error(`identity refused a token for ${this.credentials.client_id} (HTTP ${res.status})`);
    this.token = body.access_token;
    this.expiresAt = Date.now() + (body.expires_in ?? 300) * 1000;
    return this.token;
  }
}

/** A gRPC call that did not answer OK: its status and message, the RPC it was. */
export class RpcError extends Error {
  constructor(
    readonly path: string,
    readonly code: grpc.status,
    readonly details: string,
  ) {
    super(`${path.split('/').pop()}: ${grpc.status[code]} ${details}`);
  }
}

/** The city's public gRPC APIs, called with plain camelCase objects as a client application would. */
export class CityApi {
  readonly rpc: RpcClients;

  constructor(
    readonly endpoints: Endpoints,
    private readonly admin: TokenSource,
  ) {
    this.rpc = new RpcClients((service) => {
      const address = endpoints.grpc[service as keyof Endpoints['grpc']];
      if (!address) throw new Error(`no gRPC address for ${service}`);
      return address;
    });
  }

  async metadata(tokens: TokenSource = this.admin): Promise<grpc.Metadata> {
    const md = new grpc.Metadata();
    md.set('authorization', `Bearer ${await tokens.get()}`);
    return md;
  }

  /** Calls an RPC (unary, or server-streaming read to its end as `{messages}`); any answer but OK throws RpcError. */
  async ok(path: string, request: Json, tokens?: TokenSource): Promise<Json> {
    const reply = await this.call(path, request, tokens);
    if (reply.code !== grpc.status.OK || !reply.body) throw new RpcError(path, reply.code, reply.details);
    return reply.body;
  }

  async call(path: string, request: Json, tokens?: TokenSource): Promise<Reply> {
    return this.rpc.callCamel(declarationOf(path), request, await this.metadata(tokens));
  }

  close(): void {
    this.rpc.close();
  }
}
