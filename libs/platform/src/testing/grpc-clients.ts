import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { join } from 'path';
import { protoPath as healthProtoPath } from 'grpc-health-check';

const loaderOptions: protoLoader.Options = {
  keepCase: true,
  longs: String,
  enums: String,
  defaults: true,
  oneofs: true,
};

type UnaryFn = (req: unknown, cb: (err: grpc.ServiceError | null, res: unknown) => void) => void;

/** grpc.health.v1.Health/Check against a running server; resolves with the status name. */
export async function grpcHealthStatus(address: string, service = ''): Promise<string> {
  const pkg = grpc.loadPackageDefinition(protoLoader.loadSync(healthProtoPath, loaderOptions)) as unknown as {
    grpc: { health: { v1: { Health: grpc.ServiceClientConstructor } } };
  };
  const client = new pkg.grpc.health.v1.Health(address, grpc.credentials.createInsecure());
  try {
    return await new Promise((resolve, reject) =>
      (client as unknown as { Check: UnaryFn }).Check({ service }, (err, res) =>
        err ? reject(err) : resolve((res as { status: string }).status),
      ),
    );
  } finally {
    client.close();
  }
}

/** Lists the services a server exposes through gRPC server reflection (v1). */
export async function grpcReflectionServices(address: string): Promise<string[]> {
  const protoFile = join(
    require.resolve('@grpc/reflection/package.json'),
    '..',
    'build/proto/grpc/reflection/v1/reflection.proto',
  );
  const pkg = grpc.loadPackageDefinition(protoLoader.loadSync(protoFile, loaderOptions)) as unknown as {
    grpc: { reflection: { v1: { ServerReflection: grpc.ServiceClientConstructor } } };
  };
  const client = new pkg.grpc.reflection.v1.ServerReflection(address, grpc.credentials.createInsecure());
  try {
    return await new Promise((resolve, reject) => {
      const call = (
        client as unknown as { ServerReflectionInfo: () => grpc.ClientDuplexStream<unknown, unknown> }
      ).ServerReflectionInfo();
      call.on(
        'data',
        (res: {
          list_services_response?: { service: { name: string }[] };
          error_response?: { error_message: string };
        }) => {
          if (res.error_response) reject(new Error(res.error_response.error_message));
          else resolve((res.list_services_response?.service ?? []).map((s) => s.name));
          call.end();
        },
      );
      call.on('error', reject);
      call.write({ list_services: '*' });
    });
  } finally {
    client.close();
  }
}

export type PromiseClient<S> = {
  [K in keyof S]: S[K] extends grpc.MethodDefinition<infer Req, infer Res>
    ? (req: Req, metadata?: grpc.Metadata) => Promise<Res>
    : never;
} & { close(): void };

/**
 * A client of a ts-proto grpc-js service definition with promise-returning unary methods. A call
 * without metadata sends `defaultMetadata()` (e.g. a TestIssuer token), or none.
 */
export function grpcClient<S extends grpc.ServiceDefinition>(
  definition: S,
  address: string,
  defaultMetadata: () => grpc.Metadata = () => new grpc.Metadata(),
): PromiseClient<S> {
  const Ctor = grpc.makeGenericClientConstructor(definition, 'client');
  const raw = new Ctor(address, grpc.credentials.createInsecure()) as unknown as Record<
    string,
    (req: unknown, md: grpc.Metadata, cb: (err: grpc.ServiceError | null, res: unknown) => void) => void
  > & { close(): void };
  const client: Record<string, unknown> = { close: () => raw.close() };
  for (const name of Object.keys(definition)) {
    client[name] = (req: unknown, metadata = defaultMetadata()) =>
      new Promise((resolve, reject) =>
        raw[name](req, metadata, (err, res) => (err ? reject(err) : resolve(res))),
      );
  }
  return client as PromiseClient<S>;
}
