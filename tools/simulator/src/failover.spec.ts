import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as grpc from '@grpc/grpc-js';
import { loadFileDescriptorSetFromBuffer } from '@grpc/proto-loader';
import { endpointsFromEnv, TokenSource } from './api';
import { declarations, descriptorSet, replicaAddresses, RpcClients } from './descriptor-rpc';

/** A unary RPC of the city (any will do: the servers below answer it themselves). */
const rpc = declarations.find((d) => !d.serverStreaming)!;
const definition = (() => {
  let node: unknown = grpc.loadPackageDefinition(loadFileDescriptorSetFromBuffer(descriptorSet, {}));
  for (const part of rpc.service.split('.')) node = (node as Record<string, unknown>)[part];
  return (node as { service: grpc.ServiceDefinition }).service;
})();
const methodName = Object.keys(definition).find((k) => definition[k]!.path === rpc.path)!;

/** A replica answering every call of `rpc` with `answer` (null: OK), counting the calls. */
async function replica(
  answer: grpc.status | null,
): Promise<{ address: string; calls: () => number; stop: () => void }> {
  const server = new grpc.Server();
  let calls = 0;
  server.addService(definition, {
    [methodName]: (_call: unknown, cb: grpc.sendUnaryData<unknown>) => {
      calls += 1;
      if (answer === null) cb(null, {});
      else cb({ code: answer, details: 'replica says so' } as grpc.ServiceError);
    },
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) =>
      e ? reject(e) : resolve(p),
    ),
  );
  return { address: `127.0.0.1:${port}`, calls: () => calls, stop: () => server.forceShutdown() };
}

/** A port nothing listens on: a replica that is down. */
async function deadAddress(): Promise<string> {
  const r = await replica(null);
  r.stop();
  return r.address;
}

describe('replicaAddresses', () => {
  it('reads one address, a list, and grpc-js ipv4: targets', () => {
    expect(replicaAddresses('127.0.0.1:50052')).toEqual(['127.0.0.1:50052']);
    expect(replicaAddresses('ipv4:127.0.0.1:50052,127.0.0.1:50152')).toEqual([
      '127.0.0.1:50052',
      '127.0.0.1:50152',
    ]);
    expect(replicaAddresses('a:1, b:2,')).toEqual(['a:1', 'b:2']);
    expect(() => replicaAddresses('ipv4:')).toThrow(/no gRPC address/);
  });
});

describe('RpcClients with several replicas', () => {
  const stops: (() => void)[] = [];
  let clients: RpcClients | undefined;
  afterEach(() => {
    clients?.close();
    for (const s of stops.splice(0)) s();
  });

  it('makes a call that finds a replica down again, the same request, on the next one; calls take turns', async () => {
    const alive = await replica(null);
    stops.push(alive.stop);
    const dead = await deadAddress();
    clients = new RpcClients(() => `ipv4:${dead},${alive.address}`);
    for (let i = 0; i < 4; i++)
      expect((await clients.call(rpc, {}, new grpc.Metadata())).code).toBe(grpc.status.OK);
    expect(alive.calls()).toBe(4);
    expect(clients.failovers).toBe(2); // the calls whose turn was the dead replica's
  });

  it('gives up after three rounds over the replicas, answering what the last one said', async () => {
    const a = await replica(grpc.status.UNAVAILABLE);
    const b = await replica(grpc.status.UNAVAILABLE);
    stops.push(a.stop, b.stop);
    clients = new RpcClients(() => `${a.address},${b.address}`);
    expect((await clients.call(rpc, {}, new grpc.Metadata())).code).toBe(grpc.status.UNAVAILABLE);
    expect([a.calls(), b.calls()]).toEqual([3, 3]);
  });

  it('lets any other answer stand, and with one address makes every call once', async () => {
    const refusing = await replica(grpc.status.FAILED_PRECONDITION);
    const down = await replica(grpc.status.UNAVAILABLE);
    const other = await replica(null);
    stops.push(refusing.stop, down.stop, other.stop);
    clients = new RpcClients(() => `${refusing.address},${other.address}`);
    expect((await clients.call(rpc, {}, new grpc.Metadata())).code).toBe(grpc.status.FAILED_PRECONDITION);
    expect(other.calls()).toBe(0);
    const single = new RpcClients(() => down.address);
    try {
      expect((await single.call(rpc, {}, new grpc.Metadata())).code).toBe(grpc.status.UNAVAILABLE);
    } finally {
      single.close();
    }
    expect(down.calls()).toBe(1);
  });
});

describe('identity replicas for tokens', () => {
  it('reads IDENTITY_HTTP_URL as a list', () => {
    expect(
      endpointsFromEnv({ IDENTITY_HTTP_URL: 'http://127.0.0.1:8081/, http://127.0.0.1:8181' }).identityHttp,
    ).toBe('http://127.0.0.1:8081,http://127.0.0.1:8181');
    expect(endpointsFromEnv({}).identityHttp).toBe('http://127.0.0.1:8081');
  });

  it('asks the next identity for a token when one does not answer', async () => {
    let asked = 0;
    const server = createServer((_req, res) => {
      asked += 1;
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ access_token: 'tok', expires_in: 300 }));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const alive = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      const dead = `http://${await deadAddress()}`;
      const tokens = new TokenSource(`${dead},${alive}`, { client_id: 'c', client_secret: 's' });
      expect(await tokens.get()).toBe('tok');
      expect(asked).toBe(1);
    } finally {
      server.close();
    }
  });
});
