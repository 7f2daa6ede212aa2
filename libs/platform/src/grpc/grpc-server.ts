import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { ReflectionService } from '@grpc/reflection';
import { GrpcOptions, Transport } from '@nestjs/microservices';
import { HealthImplementation, ServingStatusMap } from 'grpc-health-check';
import type { Registry } from 'prom-client';
import { guardServer, GuardServerOptions } from '../auth/rpc-auth';
import { meterServer } from './grpc-metrics';
import { RequestScreen, screenServer } from './request-hygiene';

/** Fully-qualified service name (e.g. citybase.payment.v1.PaymentService) to its ts-proto grpc-js definition. */
export type GrpcServiceMap = Record<string, grpc.ServiceDefinition>;

export interface GrpcServerKit {
  options: GrpcOptions;
  health: HealthImplementation;
  setServing(serving: boolean): void;
}

/**
 * NestJS gRPC transport options for a Citybase service. Handlers use ts-proto's grpc-js codecs
 * (int64 stays bigint; see docs/adr/0003), not proto-loader's. Every server also serves
 * grpc.health.v1.Health (overall "" and per service) and server reflection from the contracts'
 * descriptor set, both open; every RPC of `services` is authenticated (libs/platform auth/rpc-auth),
 * then its request is screened (grpc/request-hygiene: no NUL, no invalid UTF-8, no overlong string);
 * every call of `services` is counted and timed by its final status (grpc/grpc-metrics).
 */
export function createGrpcServerKit(opts: {
  host: string;
  port: number;
  services: GrpcServiceMap;
  descriptorSet: Buffer;
  /** Authenticates every call of `services` (not health or reflection); see guardServer. */
  guard: Omit<GuardServerOptions, 'registry'>;
  /** Where the calls' metrics and the guard's refusals are counted. */
  registry: Registry;
}): GrpcServerKit {
  const names = Object.keys(opts.services);
  const initial: ServingStatusMap = { '': 'NOT_SERVING' };
  for (const name of names) initial[name] = 'NOT_SERVING';
  const health = new HealthImplementation(initial);
  const reflectionDefinition = protoLoader.loadFileDescriptorSetFromBuffer(opts.descriptorSet, {
    keepCase: true,
    longs: String,
    enums: String,
    defaults: true,
    oneofs: true,
  });
  const screen = new RequestScreen(opts.descriptorSet);
  const reflection = new ReflectionService(distinctFileSets(reflectionDefinition), { services: names });
  const packages = [...new Set(names.map((n) => n.slice(0, n.lastIndexOf('.'))))];
  return {
    health,
    setServing(serving) {
      const s = serving ? 'SERVING' : 'NOT_SERVING';
      health.setStatus('', s);
      for (const name of names) health.setStatus(name, s);
    },
    options: {
      transport: Transport.GRPC,
      options: {
        url: `${opts.host}:${opts.port}`,
        package: packages,
        packageDefinition: opts.services as unknown as protoLoader.PackageDefinition,
        onLoadPackageDefinition: (_pkg: unknown, server: Pick<grpc.Server, 'addService'>) => {
          health.addToServer(server as grpc.Server);
          reflection.addToServer(server);
          // after health and reflection, which stay open; before Nest adds the application's services.
          // Metering first, so that its handlers wrap the guard's: refused calls are counted too.
          meterServer(server, opts.registry);
          guardServer(server, { ...opts.guard, registry: opts.registry });
          // installed after the guard, so it wraps it: authentication first, then the screen
          screenServer(server, screen, opts.guard.logger);
        },
        maxReceiveMessageLength: 8 * 1024 * 1024,
      },
    },
  };
}

/**
 * The entries of a proto-loader package definition that carry a set of files not seen before.
 * ReflectionService decodes the `fileDescriptorProtos` of every entry it is given, and proto-loader
 * gives every message and enum the same array of all the files: handed the whole definition, it
 * decoded the contracts' descriptor set once per type (twice: reflection v1 and v1alpha), a
 * transient ~120 MB and seconds of CPU at every start (issue 11's RSS finding). The files, hence
 * every reflection answer, are the same.
 */
function distinctFileSets(definition: protoLoader.PackageDefinition): protoLoader.PackageDefinition {
  const seen = new Set<unknown>();
  const distinct: protoLoader.PackageDefinition = {};
  for (const [name, entry] of Object.entries(definition)) {
    const files = (entry as { fileDescriptorProtos?: unknown }).fileDescriptorProtos;
    if (!Array.isArray(files) || seen.has(files)) continue;
    seen.add(files);
    distinct[name] = entry;
  }
  return distinct;
}
