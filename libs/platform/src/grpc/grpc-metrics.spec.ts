import * as grpc from '@grpc/grpc-js';
import { Registry } from 'prom-client';
import { meterServer } from './grpc-metrics';

const json = {
  serialize: (v: unknown) => Buffer.from(JSON.stringify(v ?? {})),
  deserialize: (b: Buffer) => JSON.parse(b.toString() || '{}') as unknown,
};
function method(path: string, responseStream: boolean): grpc.MethodDefinition<unknown, unknown> {
  return {
    path,
    requestStream: false,
    responseStream,
    requestSerialize: json.serialize,
    requestDeserialize: json.deserialize,
    responseSerialize: json.serialize,
    responseDeserialize: json.deserialize,
  };
}
const definition = {
  echo: method('/test.v1.Meter/Echo', false),
  refuse: method('/test.v1.Meter/Refuse', false),
  list: method('/test.v1.Meter/List', true),
  listFailing: method('/test.v1.Meter/ListFailing', true),
  listForever: method('/test.v1.Meter/ListForever', true),
} satisfies grpc.ServiceDefinition;

/** The counter's values as {"rpc code": n}. */
async function handled(registry: Registry): Promise<Record<string, number>> {
  const metric = await registry.getSingleMetric('grpc_server_handled_total')!.get();
  return Object.fromEntries(metric.values.map((v) => [`${v.labels.rpc} ${v.labels.code}`, v.value]));
}
/** The latency histogram's `_count` or `_sum` series of one RPC. */
async function latency(registry: Registry, rpc: string, series: '_count' | '_sum'): Promise<number> {
  const metric = await registry.getSingleMetric('grpc_server_handling_seconds')!.get();
  const values = metric.values as { labels: Record<string, unknown>; value: number; metricName?: string }[];
  return values.find((v) => v.labels.rpc === rpc && v.metricName?.endsWith(series))?.value ?? 0;
}

describe('meterServer: every call counted by RPC and final status, on a real grpc-js server', () => {
  const registry = new Registry();
  const server = new grpc.Server();
  let client: grpc.Client & Record<string, (...args: unknown[]) => unknown>;
  let forever: grpc.ServerWritableStream<unknown, unknown> | undefined;

  beforeAll(async () => {
    meterServer(server, registry);
    server.addService(definition, {
      echo: (call: grpc.ServerUnaryCall<unknown, unknown>, cb: grpc.sendUnaryData<unknown>) =>
        setTimeout(() => cb(null, call.request), 5),
      refuse: (_call: grpc.ServerUnaryCall<unknown, unknown>, cb: grpc.sendUnaryData<unknown>) =>
        cb({ code: grpc.status.INVALID_ARGUMENT, details: 'amount: must be positive' }),
      list: (call: grpc.ServerWritableStream<unknown, unknown>) => {
        call.write({ n: 1 });
        call.write({ n: 2 });
        call.end();
      },
      listFailing: (call: grpc.ServerWritableStream<unknown, unknown>) => {
        call.write({ n: 1 });
        call.emit('error', { code: grpc.status.PERMISSION_DENIED, details: 'not yours' });
      },
      listForever: (call: grpc.ServerWritableStream<unknown, unknown>) => {
        forever = call;
        call.write({ n: 1 });
      },
    });
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) =>
        err ? reject(err) : resolve(p),
      ),
    );
    const Client = grpc.makeGenericClientConstructor(definition, 'Meter');
    client = new Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure()) as typeof client;
  });
  afterAll(() => {
    client.close();
    server.forceShutdown();
  });

  const unary = (name: 'echo' | 'refuse', req: unknown) =>
    new Promise<{ err: grpc.ServiceError | null; res: unknown }>((resolve) =>
      client[name](req, (err: grpc.ServiceError | null, res: unknown) => resolve({ err, res })),
    );
  const stream = (name: 'list' | 'listFailing') =>
    new Promise<{ messages: unknown[]; code: number }>((resolve) => {
      const messages: unknown[] = [];
      const call = client[name]({}) as grpc.ClientReadableStream<unknown>;
      call.on('data', (m) => messages.push(m));
      call.on('error', () => undefined);
      call.on('status', (s: grpc.StatusObject) => resolve({ messages, code: s.code }));
    });

  it('counts unary calls by status, and passes their answers through unchanged', async () => {
    const answers = await Promise.all([
      unary('echo', { a: 1 }),
      unary('echo', { a: 2 }),
      unary('refuse', {}),
    ]);
    expect(answers.map((a) => a.res)).toEqual([{ a: 1 }, { a: 2 }, undefined]);
    expect(answers[2]?.err).toMatchObject({
      code: grpc.status.INVALID_ARGUMENT,
      details: 'amount: must be positive',
    });
    const counts = await handled(registry);
    expect(counts['/test.v1.Meter/Echo OK']).toBe(2);
    expect(counts['/test.v1.Meter/Refuse INVALID_ARGUMENT']).toBe(1);
    expect(await latency(registry, '/test.v1.Meter/Echo', '_count')).toBe(2);
    // two calls of at least 5 ms each (less a little for the timers' granularity)
    expect(await latency(registry, '/test.v1.Meter/Echo', '_sum')).toBeGreaterThanOrEqual(0.008);
  });

  it('counts a server stream when it ends: OK, the status of an emitted error, or CANCELLED', async () => {
    await expect(stream('list')).resolves.toEqual({ messages: [{ n: 1 }, { n: 2 }], code: grpc.status.OK });
    const failing = await stream('listFailing');
    expect(failing.code).toBe(grpc.status.PERMISSION_DENIED);
    const call = client.listForever({}) as grpc.ClientReadableStream<unknown>;
    call.on('error', () => undefined);
    await new Promise((resolve) => call.once('data', resolve));
    call.cancel();
    // the server sees the cancellation a little later (at most 2 s here)
    for (let i = 0; i < 200 && !forever?.cancelled; i++) await new Promise((r) => setTimeout(r, 10));
    expect(forever?.cancelled).toBe(true);
    const counts = await handled(registry);
    expect(counts['/test.v1.Meter/List OK']).toBe(1);
    expect(counts['/test.v1.Meter/ListFailing PERMISSION_DENIED']).toBe(1);
    expect(counts['/test.v1.Meter/ListForever CANCELLED']).toBe(1);
    expect(await latency(registry, '/test.v1.Meter/ListForever', '_count')).toBe(1);
  });
});
