import type * as grpc from '@grpc/grpc-js';
import { Client, type Pool } from 'pg';
import { createPool } from '../db/pool';
import type { BaseServiceConfig } from '../config';
import type { ServiceDefinition } from '../service/run-service';
import { grpcClient, PromiseClient } from './grpc-clients';
import { startInProcess } from './in-process';
import { TestIssuer } from './test-issuer';
import {
  createServiceDatabase,
  kafkaTestPrefix,
  ServiceDatabase,
  ServiceUnderTest,
  uniqueName,
} from './test-kit';

/** A token's tenancy subtree (TestTokenOptions). */
export interface Tenancy {
  operators?: string[];
  projects?: string[];
}

export interface ServiceHarnessOptions<C extends BaseServiceConfig, S extends grpc.ServiceDefinition> {
  /** The service's src/definition.ts. */
  definition: ServiceDefinition<C>;
  /** The gRPC service clientOf() calls. */
  grpcService: S;
  /** Names the suite's database and Kafka namespace. */
  label: string;
  /**
   * The service's configuration on top of the harness's own (DATABASE_URL, KAFKA_TOPIC_PREFIX,
   * AUTH_JWKS_URL of the TestIssuer), which `env` sees and may override, e.g. to trust the
   * service's own JWKS.
   */
  env?: (ctx: {
    db: ServiceDatabase;
    topicPrefix: string;
    issuer: TestIssuer;
    httpUrl: string;
  }) => Record<string, string>;
  /** Size of `pool`, the suite's own connections to the service's database. Default 5. */
  poolSize?: number;
  /** Default scopes of clientOf() and metadata(). */
  scopes?: string[];
}

/**
 * One service under test for a suite, in the Jest process (startInProcess), on its own copy of
 * the service's migrated template database (createServiceDatabase) and Kafka namespace, trusting
 * a TestIssuer; with direct access to its database and gRPC clients per caller.
 */
export interface ServiceHarness<S extends grpc.ServiceDefinition = grpc.ServiceDefinition> {
  issuer: TestIssuer;
  db: ServiceDatabase;
  svc: ServiceUnderTest;
  /** KAFKA_TOPIC_PREFIX of the service (the harness's own unless `env` gave another). */
  topicPrefix: string;
  /** One connection to the service's database. */
  pg: Client;
  /** A pool of connections to the service's database (opened on first use). */
  pool: Pool;
  /** Token metadata of one client id per (tenancy, scopes): request ids are per client. */
  metadata(tenancy: Tenancy, scopes?: string[]): grpc.Metadata;
  /** A client of the harness's gRPC service sending `metadata()` of that caller; closed by stop(). */
  clientOf(tenancy: Tenancy, scopes?: string[]): PromiseClient<S>;
  /** A client of `service` sending `defaultMetadata()` (default none); closed by stop(). */
  client<T extends grpc.ServiceDefinition>(
    service: T,
    defaultMetadata?: () => grpc.Metadata,
  ): PromiseClient<T>;
  /** Runs `step` when the harness stops, before what started earlier (fakes, sandboxes, ...). */
  onStop(step: () => Promise<unknown> | void): void;
  /** Stops everything, in the reverse order it started; safe to call twice. */
  stop(): Promise<void>;
}

/**
 * Starts a ServiceHarness. Whatever started is stopped again if a later step fails, so a failed
 * set-up leaks nothing that would keep Jest from exiting.
 */
export async function startServiceHarness<C extends BaseServiceConfig, S extends grpc.ServiceDefinition>(
  opts: ServiceHarnessOptions<C, S>,
): Promise<ServiceHarness<S>> {
  const undo: (() => Promise<unknown> | void)[] = [];
  const stop = async () => {
    for (const step of undo.splice(0).reverse()) await Promise.resolve(step()).catch(() => undefined);
  };
  try {
    const issuer = await TestIssuer.start();
    undo.push(() => issuer.stop());
    const db = await createServiceDatabase(opts.label, opts.definition.migrations);
    undo.push(() => db.drop());
    let topicPrefix = kafkaTestPrefix(opts.label);
    const svc = await startInProcess(opts.definition, ({ httpPort }) => {
      const env = {
        DATABASE_URL: db.url,
        KAFKA_TOPIC_PREFIX: topicPrefix,
        AUTH_JWKS_URL: issuer.jwksUrl,
        ...opts.env?.({ db, topicPrefix, issuer, httpUrl: `http://127.0.0.1:${httpPort}` }),
      };
      // a suite may give the service a namespace of its own
      topicPrefix = env.KAFKA_TOPIC_PREFIX;
      return env;
    });
    undo.push(() => svc.stop());
    await svc.ready();
    const pg = new Client({ connectionString: db.url });
    await pg.connect();
    undo.push(() => pg.end());
    const pool = createPool(db.url, { max: opts.poolSize ?? 5 });
    undo.push(() => pool.end());

    const clientIds = new Map<string, string>();
    const metadata = (tenancy: Tenancy, scopes = opts.scopes ?? []): grpc.Metadata => {
      const key = JSON.stringify([tenancy, scopes]);
      const sub = clientIds.get(key) ?? uniqueName('app');
      clientIds.set(key, sub);
      return issuer.metadata({ scopes, sub, ...tenancy });
    };
    const client = <T extends grpc.ServiceDefinition>(service: T, defaultMetadata?: () => grpc.Metadata) => {
      const c = grpcClient(service, svc.grpcAddress, defaultMetadata);
      undo.push(() => c.close());
      return c;
    };
    return {
      issuer,
      db,
      svc,
      topicPrefix,
      pg,
      pool,
      metadata,
      client,
      clientOf: (tenancy, scopes) => client(opts.grpcService, () => metadata(tenancy, scopes)),
      onStop: (step) => void undo.push(step),
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
