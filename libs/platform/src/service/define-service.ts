import { join } from 'path';
import type { Type } from '@nestjs/common';
import type { z } from 'zod';
import { loadDescriptorSet } from '@citybase/contracts/descriptors';
import type { BaseServiceConfig } from '../config';
import { platformMigrations } from '../db';
import type { GrpcServiceMap } from '../grpc';
import { eventsTopic } from '../kafka';
import type { ServiceDefinition } from './run-service';

export interface ServiceSpec<C extends BaseServiceConfig> {
  /** Short name: identity, payment, ... (ServiceDefinition.name). */
  name: string;
  /** The service's folder (services/<name>): its own migrations are in <root>/migrations. */
  root: string;
  configSchema: z.ZodType<C>;
  module: Type<unknown>;
  grpcServices: GrpcServiceMap;
  /**
   * Services whose events this one consumes: their topics are created at start-up too, so the
   * service starts whichever of them comes up first.
   */
  consumes?: string[];
  /** Further topics of its own domain it writes or reads (e.g. iot's bulk telemetry topic), made at start-up. */
  topics?: string[];
}

/**
 * The ServiceDefinition of a Citybase service from what differs between services; the rest is the
 * same for all: the descriptor set of every proto, the platform's migrations then the service's
 * own, and the service's events topic (plus the topics it consumes). Each service's
 * src/definition.ts calls it; main.ts runs the result and in-process tests start it.
 */
export function defineService<C extends BaseServiceConfig>(spec: ServiceSpec<C>): ServiceDefinition<C> {
  return {
    name: spec.name,
    configSchema: spec.configSchema,
    module: spec.module,
    grpcServices: spec.grpcServices,
    descriptorSet: loadDescriptorSet(),
    migrations: [platformMigrations, { namespace: spec.name, dir: join(spec.root, 'migrations') }],
    topics: [eventsTopic(spec.name), ...(spec.consumes ?? []).map(eventsTopic), ...(spec.topics ?? [])],
  };
}
