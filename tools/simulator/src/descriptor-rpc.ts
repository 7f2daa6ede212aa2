import * as grpc from '@grpc/grpc-js';
import { loadFileDescriptorSetFromBuffer } from '@grpc/proto-loader';
import { loadDescriptorSet } from '@citybase/contracts/descriptors';
import { RpcAuthDeclaration, rpcAuthDeclarations } from '@citybase/contracts/rpc-auth';
import { ERROR_FIELD_METADATA } from '@citybase/platform';

/**
 * Every RPC of every service, read from the contracts' descriptor set (so an RPC added to a .proto
 * is here without anyone editing a test), and generic clients that call any of them with plain
 * objects: what the suites that sweep all RPCs (authorization matrix, hostile input) share.
 */

export type Json = Record<string, unknown>;

/** How a unary call ended: its status, the reply (OK) or the request field an error names. */
export interface Reply {
  code: grpc.status;
  details: string;
  body?: Json;
  field?: string;
}

export const descriptorSet = loadDescriptorSet();
export const declarations: readonly RpcAuthDeclaration[] = [...rpcAuthDeclarations(descriptorSet).values()];

export function declarationOf(path: string): RpcAuthDeclaration {
  const d = declarations.find((x) => x.path === path);
  if (!d) throw new Error(`no RPC ${path} in the descriptor set`);
  return d;
}

/** Every scope an RPC declares, and those handlers check themselves (full PII, operations). */
export const ALL_SCOPES: readonly string[] = [
  ...new Set(declarations.flatMap((d) => (d.requiredScope ? [d.requiredScope] : []))),
  'identity:pii.read',
  'ops:admin',
];

/** The Citybase services, one process each (`npm run generate -- service` adds a new one here). */
export const SERVICES = ['identity', 'payment', 'settlement', 'points', 'marketing', 'iot', 'data'];

/** Which service (process) serves a proto service: the package is citybase.<name>.v1. */
export const processOf = (d: RpcAuthDeclaration): string => d.service.split('.')[1] ?? '';

/** Requests are plain objects with the proto's field names; missing fields default. */
const loaded = grpc.loadPackageDefinition(
  loadFileDescriptorSetFromBuffer(descriptorSet, {
    longs: String,
    enums: Number,
    defaults: true,
    oneofs: true,
  }),
);
type RawClient = grpc.Client &
  Record<string, (req: Json, md: grpc.Metadata, cb: grpc.requestCallback<Json>) => void>;
type RawClientCtor = new (address: string, creds: grpc.ChannelCredentials) => RawClient;

function clientCtor(service: string): RawClientCtor {
  let node: unknown = loaded;
  for (const part of service.split('.')) node = (node as Record<string, unknown>)[part];
  return node as RawClientCtor;
}

/** Tests write requests in camelCase (as ts-proto does); the descriptor's messages use snake_case. */
export const toSnake = (k: string): string => k.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
export const toCamel = (k: string): string => k.replace(/_([a-z])/g, (_m, c: string) => c.toUpperCase());
export function renameKeys(value: unknown, rename: (k: string) => string): unknown {
  if (Array.isArray(value)) return value.map((v) => renameKeys(v, rename));
  if (value && typeof value === 'object' && !Buffer.isBuffer(value)) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [rename(k), renameKeys(v, rename)]));
  }
  return value;
}

/**
 * The replicas' addresses in a service's address: `host:port`, or several as
 * `host:port,host:port`, optionally written as grpc-js's own target `ipv4:host:port,host:port`
 * (what deploy/local/start.sh --replicas gives services and the simulator alike).
 */
export function replicaAddresses(address: string): string[] {
  const list = address.replace(/^ipv[46]:/, '');
  const out = list
    .split(',')
    .map((a) => a.trim())
    .filter(Boolean);
  if (out.length === 0) throw new Error(`no gRPC address in '${address}'`);
  return out;
}

/** How a call to a replica that is down or restarting ends: made again on another replica. */
const REPLICA_DOWN: ReadonlySet<grpc.status> = new Set([
  grpc.status.UNAVAILABLE,
  grpc.status.DEADLINE_EXCEEDED,
]);
/** Rounds over every replica a call may take before its failure stands, and the pause between them. */
const FAILOVER_ROUNDS = 3;
const FAILOVER_PAUSE_MS = 300;

/**
 * Clients of every RPC of running services, one channel per proto service and replica; `calls`
 * counts the calls made. A service with several replicas (its address a list, `replicaAddresses`)
 * gets its calls in turn; a call answered UNAVAILABLE or DEADLINE_EXCEEDED (the replica died or is
 * restarting) is made again, the same request (so the same request id: every mutating RPC is
 * idempotent by it), on the next replica, for up to FAILOVER_ROUNDS rounds over them. With one
 * address every answer stands as it is.
 */
export class RpcClients {
  calls = 0;
  /** Calls made again on another replica. */
  failovers = 0;
  private readonly clients = new Map<string, RawClient>();
  private readonly byteClients = new Map<string, grpc.Client>();
  private turn = 0;

  /** `addressOf` gives the gRPC address (or replicas' addresses) of a service (process) by name. */
  constructor(private readonly addressOf: (service: string) => string) {}

  /** Calls an RPC with a request in the proto's field names; the reply's body has them too. */
  async call(d: RpcAuthDeclaration, request: Json, metadata: grpc.Metadata): Promise<Reply> {
    const addresses = replicaAddresses(this.addressOf(processOf(d)));
    if (addresses.length === 1) return this.callOn(d, addresses[0]!, request, metadata);
    const first = this.turn++;
    const attempts = addresses.length * FAILOVER_ROUNDS;
    for (let i = 0; ; i++) {
      const reply = await this.callOn(d, addresses[(first + i) % addresses.length]!, request, metadata);
      if (!REPLICA_DOWN.has(reply.code) || i + 1 >= attempts) return reply;
      this.failovers += 1;
      if ((i + 1) % addresses.length === 0) await new Promise((r) => setTimeout(r, FAILOVER_PAUSE_MS));
    }
  }

  private callOn(
    d: RpcAuthDeclaration,
    address: string,
    request: Json,
    metadata: grpc.Metadata,
  ): Promise<Reply> {
    const key = `${d.service}@${address}`;
    let client = this.clients.get(key);
    if (!client) {
      const Ctor = clientCtor(d.service);
      client = new Ctor(address, grpc.credentials.createInsecure());
      this.clients.set(key, client);
    }
    const c = client;
    const method = c[d.method] ?? c[d.method.charAt(0).toLowerCase() + d.method.slice(1)];
    if (!method) throw new Error(`no client method for ${d.path}`);
    if (d.serverStreaming) return this.collect(c, method, request, metadata);
    return new Promise((resolve) => method.call(c, request, metadata, this.reply(resolve)));
  }

  /** A server-streaming call read to its end: OK with `{ messages }`, or the status it ended with. */
  private collect(
    c: RawClient,
    method: RawClient[string],
    request: Json,
    metadata: grpc.Metadata,
  ): Promise<Reply> {
    const open = method as unknown as (req: Json, md: grpc.Metadata) => grpc.ClientReadableStream<Json>;
    return new Promise((resolve) => {
      const messages: Json[] = [];
      const stream = open.call(c, request, metadata);
      stream.on('data', (m: Json) => messages.push(m));
      stream.on('error', (err: grpc.ServiceError) => this.reply(resolve)(err));
      stream.on('end', () => this.reply(resolve)(null, { messages }));
    });
  }

  /** `call` with a request written in camelCase; the reply's body comes back in camelCase too. */
  async callCamel(d: RpcAuthDeclaration, request: Json, metadata: grpc.Metadata): Promise<Reply> {
    const reply = await this.call(d, renameKeys(request, toSnake) as Json, metadata);
    return reply.body ? { ...reply, body: renameKeys(reply.body, toCamel) as Json } : reply;
  }

  /** An RPC that must succeed (camelCase request): its reply body; anything but OK throws. */
  async ok(path: string, request: Json, metadata: grpc.Metadata): Promise<Json> {
    const reply = await this.callCamel(declarationOf(path), request, metadata);
    if (reply.code !== grpc.status.OK || !reply.body)
      throw new Error(`${path}: ${grpc.status[reply.code]} ${reply.details}`);
    return reply.body;
  }

  /** Sends `bytes` as the whole request message, whatever they are. */
  callBytes(d: RpcAuthDeclaration, bytes: Buffer, metadata: grpc.Metadata): Promise<Reply> {
    const service = processOf(d);
    let client = this.byteClients.get(service);
    if (!client) {
      client = new grpc.Client(
        replicaAddresses(this.addressOf(service))[0]!,
        grpc.credentials.createInsecure(),
      );
      this.byteClients.set(service, client);
    }
    const ident = (b: Buffer) => b;
    if (d.serverStreaming) {
      return new Promise((resolve) => {
        const stream = client.makeServerStreamRequest(d.path, ident, ident, bytes, metadata);
        stream.on('data', () => undefined);
        stream.on('error', (err: grpc.ServiceError) => this.reply(resolve)(err));
        stream.on('end', () => this.reply(resolve)(null, Buffer.alloc(0)));
      });
    }
    return new Promise((resolve) =>
      client.makeUnaryRequest(d.path, ident, ident, bytes, metadata, this.reply(resolve)),
    );
  }

  close(): void {
    for (const c of [...this.clients.values(), ...this.byteClients.values()]) c.close();
  }

  private reply(resolve: (r: Reply) => void) {
    return (err: grpc.ServiceError | null, body?: Json | Buffer) => {
      this.calls += 1;
      if (!err)
        return resolve({ code: grpc.status.OK, details: '', body: Buffer.isBuffer(body) ? undefined : body });
      const field = err.metadata?.get(ERROR_FIELD_METADATA)[0];
      resolve({ code: err.code, details: err.details, field: typeof field === 'string' ? field : undefined });
    };
  }
}
