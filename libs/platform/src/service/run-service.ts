import { DynamicModule, Global, INestApplication, Module, Type } from '@nestjs/common';
import { DiscoveryModule, DiscoveryService, NestFactory } from '@nestjs/core';
import type { MicroserviceOptions } from '@nestjs/microservices';
import Redis from 'ioredis';
import type { Kafka } from 'kafkajs';
import type { Pool } from 'pg';
import { collectDefaultMetrics, Registry } from 'prom-client';
import type { z } from 'zod';
import { rpcAuthDeclarations } from '@citybase/contracts/rpc-auth';
import { status } from '@grpc/grpc-js';
import { ClientRevocations, JwksCache, RpcAuthenticator, tenancyFilter } from '../auth';
import { DomainError } from '../errors';
import { toGrpcError } from '../grpc/status-mapping';
import { BaseServiceConfig, ConfigError, loadConfig } from '../config';
import { createPool, MigrationSource, registerRoundTripMetric, runMigrations } from '../db';
import { createGrpcServerKit, GrpcErrorFilter, GrpcServiceMap } from '../grpc';
import { OpsController, Readiness } from '../http';
import { createKafka, ensureTopics } from '../kafka';
import { createLogger, Logger, NestPinoLogger } from '../logging';
import { EnqueueOptions, enqueue, EventSource, EventType, InboxConsumer, OutboxRelay } from '../messaging';
import type { PoolClient } from 'pg';
import type { DestinationStream } from 'pino';
import { stopTelemetry } from '../telemetry';
import { Mutations } from '../usecase/mutations';
import { discoverEventConsumers } from './event-consumers';
import {
  KAFKA,
  LOGGER,
  METRICS_REGISTRY,
  OUTBOX,
  PG_POOL,
  REDIS,
  RPC_AUTHENTICATOR,
  SERVICE_CONFIG,
} from './tokens';

/** Writes events into the outbox of this service, inside the caller's transaction. */
export interface Outbox {
  enqueue<T>(
    client: PoolClient,
    type: EventType<T>,
    payload: T,
    opts: EnqueueOptions,
  ): Promise<{ id: string }>;
}

/** The outbox of a service's events (also for work a service runs outside its Nest app, e.g. on a worker thread). */
export function serviceOutbox(source: EventSource): Outbox {
  return { enqueue: (client, type, payload, opts) => enqueue(client, source, type, payload, opts) };
}

export interface ServiceDefinition<C extends BaseServiceConfig> {
  /** Short name: identity, payment, ... Used in logs, client ids, metrics and database names. */
  name: string;
  configSchema: z.ZodType<C>;
  /** The service's own Nest module: its gRPC controllers and feature providers. */
  module: Type<unknown>;
  grpcServices: GrpcServiceMap;
  descriptorSet: Buffer;
  /** Migration folders in the order they apply (the service's own folder last). */
  migrations: MigrationSource[];
  /** Kafka topics this service owns and creates at start-up. */
  topics: string[];
}

export interface StartOptions {
  /** Where the service's JSON log lines go: stdout by default; in-process tests capture them. */
  logDestination?: DestinationStream;
}

export interface RunningService<C extends BaseServiceConfig> {
  config: C;
  logger: Logger;
  app: INestApplication;
  /** Stops accepting work, drains, closes connections. Safe to call twice. */
  stop(): Promise<void>;
}

@Global()
@Module({})
class PlatformModule {
  static register(values: {
    config: BaseServiceConfig;
    pool: Pool;
    logger: Logger;
    kafka: Kafka;
    redis: Redis;
    registry: Registry;
    readiness: Readiness;
    outbox: Outbox;
    authenticator: RpcAuthenticator;
  }): DynamicModule {
    const providers = [
      { provide: SERVICE_CONFIG, useValue: values.config },
      { provide: PG_POOL, useValue: values.pool },
      { provide: LOGGER, useValue: values.logger },
      { provide: KAFKA, useValue: values.kafka },
      { provide: REDIS, useValue: values.redis },
      { provide: METRICS_REGISTRY, useValue: values.registry },
      { provide: Readiness, useValue: values.readiness },
      { provide: OUTBOX, useValue: values.outbox },
      { provide: RPC_AUTHENTICATOR, useValue: values.authenticator },
    ];
    return {
      module: PlatformModule,
      providers: [...providers, Mutations],
      exports: [...providers.map((p) => p.provide), Mutations],
      controllers: [OpsController],
    };
  }
}

/**
 * Starts one Citybase service: configuration, logs, database migrations, Kafka topics, Redis, then
 * gRPC (with health and reflection) and HTTP (/healthz, /readyz, /metrics). Resolves once the
 * service reports SERVING.
 */
export async function startService<C extends BaseServiceConfig>(
  def: ServiceDefinition<C>,
  env: NodeJS.ProcessEnv = process.env,
  opts: StartOptions = {},
): Promise<RunningService<C>> {
  const config = loadConfig(def.configSchema, env);
  const logger = createLogger(def.name, config.LOG_LEVEL, opts.logDestination);
  const registry = new Registry();
  registry.setDefaultLabels({ service: def.name });
  collectDefaultMetrics({ register: registry });
  registerRoundTripMetric(registry);
  const readiness = new Readiness();

  const pool = createPool(config.DATABASE_URL, {
    max: config.DATABASE_POOL_SIZE,
    application_name: `citybase-${def.name}`,
  });
  const redis = new Redis(config.REDIS_URL, {
    lazyConnect: true,
    maxRetriesPerRequest: 2,
    connectionName: `citybase-${def.name}`,
  });
  redis.on('error', (err) => logger.warn({ err: err.message }, 'redis connection error'));
  const kafka = createKafka({
    clientId: `${config.CITY_ID}-${def.name}`,
    brokers: config.KAFKA_BROKERS,
    logger,
  });
  const admin = kafka.admin();
  let app: INestApplication | undefined;
  let stopped: Promise<void> | undefined;
  const source = { city: config.CITY_ID, service: def.name, topicPrefix: config.KAFKA_TOPIC_PREFIX };
  const outbox = serviceOutbox(source);
  const relay = new OutboxRelay({ databaseUrl: config.DATABASE_URL, kafka, logger, registry });
  let consumers: InboxConsumer[] = [];

  const closeConnections = async () => {
    await Promise.all(consumers.map((c) => c.stop()));
    await relay.stop().catch(() => undefined);
    await admin.disconnect().catch(() => undefined);
    redis.disconnect();
    await pool.end().catch(() => undefined);
  };

  try {
    const migrated = await runMigrations(pool, def.migrations);
    logger.info(
      {
        applied: migrated.applied.map((m) => `${m.namespace}/${m.version}_${m.name}`),
        already_applied: migrated.alreadyApplied,
      },
      'migrations done',
    );
    await redis.connect();
    await admin.connect();
    await ensureTopics(
      admin,
      def.topics.map((t) => config.KAFKA_TOPIC_PREFIX + t),
      config.KAFKA_TOPIC_PARTITIONS,
    );

    readiness.add('postgres', async () => void (await pool.query('SELECT 1')));
    readiness.add('redis', async () => void (await redis.ping()));
    readiness.add('kafka', async () => void (await admin.describeCluster()));

    const authenticator = new RpcAuthenticator({
      declarations: rpcAuthDeclarations(def.descriptorSet),
      keys: new JwksCache({
        url: config.AUTH_JWKS_URL,
        onRefreshError: (err) => logger.warn({ err, url: config.AUTH_JWKS_URL }, 'JWKS fetch failed'),
      }),
      city: config.CITY_ID,
      issuer: config.AUTH_TOKEN_ISSUER,
      revocations: new ClientRevocations(redis, config.CITY_ID),
    });
    const kit = createGrpcServerKit({
      host: config.GRPC_HOST,
      port: config.GRPC_PORT,
      services: def.grpcServices,
      descriptorSet: def.descriptorSet,
      guard: { authenticator, logger },
      registry,
    });

    @Module({
      imports: [
        PlatformModule.register({
          config,
          pool,
          logger,
          kafka,
          redis,
          registry,
          readiness,
          outbox,
          authenticator,
        }),
        DiscoveryModule,
        def.module,
      ],
    })
    class RootModule {}

    app = await NestFactory.create(RootModule, { logger: new NestPinoLogger(logger), abortOnError: false });
    // No enableShutdownHooks: runService() owns the signals and calls stop(), which closes the app.
    // Hybrid app: global filters must be set on the app and inherited by gRPC. No global interceptor:
    // calls are metered on the transport (grpc/grpc-metrics), not in Nest's interceptor chain.
    app.useGlobalFilters(new GrpcErrorFilter(logger));
    app.connectMicroservice<MicroserviceOptions>(kit.options, { inheritAppConfig: true });
    // the feature modules' @EventConsumer providers, one InboxConsumer per consumer name
    consumers = discoverEventConsumers(app.get(DiscoveryService)).map(({ name, options, subscribers }) => {
      const consumer = new InboxConsumer({
        name,
        kafka,
        pool,
        logger,
        registry,
        topicPrefix: config.KAFKA_TOPIC_PREFIX,
        sessionTimeoutMs: config.KAFKA_SESSION_TIMEOUT_MS,
        ...options,
      });
      for (const s of subscribers)
        s.subscribe(
          (type, handle, options) => void consumer.on(type, handle, options),
          (type, group) => void consumer.onGroup(type, group),
        );
      return consumer;
    });
    registerDlqReplay(app, consumers, logger, authenticator);
    await app.startAllMicroservices();
    await app.listen(config.HTTP_PORT, config.HTTP_HOST);
    await relay.start();
    await Promise.all(consumers.map((c) => c.start()));

    kit.setServing(true);
    readiness.markStarted();
    logger.info(
      { grpc: `${config.GRPC_HOST}:${config.GRPC_PORT}`, http: `${config.HTTP_HOST}:${config.HTTP_PORT}` },
      `${def.name} serving`,
    );

    const started = app;
    return {
      config,
      logger,
      app: started,
      stop: () =>
        (stopped ??= (async () => {
          readiness.markStopping();
          kit.setServing(false);
          // stop taking events first, then requests, then publish what is left and disconnect
          await Promise.all(consumers.map((c) => c.stop()));
          await started.close();
          await closeConnections();
          logger.info('stopped');
        })()),
    };
  } catch (err) {
    await app?.close().catch(() => undefined);
    await closeConnections();
    throw err;
  }
}

/** The scope an operator's token needs for the acting endpoints of the ops port. */
export const OPS_ADMIN_SCOPE = 'ops:admin';

/**
 * `POST /admin/dlq/<consumer>/replay` on the ops port: re-applies that consumer's dead letters
 * after a fix has been deployed (InboxConsumer.replayDeadLetters). Answers the counts as JSON.
 * Needs `Authorization: Bearer <token>` with scope ops:admin of an unrestricted city admin
 * (401 without a valid token, 403 without the scope or with a narrower tenancy).
 */
function registerDlqReplay(
  app: INestApplication,
  consumers: InboxConsumer[],
  logger: Logger,
  authenticator: RpcAuthenticator,
): void {
  const byName = new Map(consumers.map((c) => [c.name, c]));
  const http = app.getHttpAdapter();
  http.post(
    '/admin/dlq/:consumer/replay',
    (
      req: { params: { consumer: string }; headers: Record<string, string | string[] | undefined> },
      res: { status(n: number): { json(b: unknown): void } },
    ) => {
      const header = req.headers['authorization'];
      authenticator
        .authenticateHttp(Array.isArray(header) ? header.join(',') : header, OPS_ADMIN_SCOPE)
        .then((claims) => {
          if (!tenancyFilter(claims).all) {
            throw new DomainError(
              'permission_denied',
              'TENANCY_FORBIDDEN',
              'needs an unrestricted city admin',
            );
          }
          replay(req.params.consumer, res);
        })
        .catch((err: unknown) => {
          const mapped = toGrpcError(err, () => 'n/a');
          const httpStatus =
            mapped.code === status.UNAUTHENTICATED
              ? 401
              : mapped.code === status.PERMISSION_DENIED
                ? 403
                : 503;
          logger.info({ code: mapped.domainCode, httpStatus }, 'dead-letter replay refused');
          res.status(httpStatus).json({ error: mapped.details });
        });
    },
  );

  function replay(name: string, res: { status(n: number): { json(b: unknown): void } }): void {
    const consumer = byName.get(name);
    if (!consumer) {
      res.status(404).json({
        error: `no consumer ${name}; consumers: ${[...byName.keys()].join(', ') || 'none'}`,
      });
      return;
    }
    consumer.replayDeadLetters().then(
      (result) => {
        logger.info({ consumer: consumer.name, ...result }, 'dead letters replayed');
        res.status(200).json(result);
      },
      (err: unknown) => {
        logger.error({ err, consumer: consumer.name }, 'dead-letter replay failed');
        res.status(500).json({ error: (err as Error).message });
      },
    );
  }
}

/**
 * The whole life of a service process: start, then stop cleanly on SIGTERM or SIGINT (exit 0),
 * or exit 1 with a single clear message when the configuration is invalid or start-up fails.
 */
export async function runService<C extends BaseServiceConfig>(def: ServiceDefinition<C>): Promise<void> {
  let running: RunningService<C>;
  try {
    running = await startService(def);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${def.name}: ${err.message}\n`);
    } else {
      createLogger(def.name).fatal({ err }, 'start-up failed');
    }
    await stopTelemetry();
    process.exit(1);
  }
  const shutdown = (signal: string) => {
    running.logger.info({ signal }, 'shutting down');
    const timer = setTimeout(() => {
      running.logger.error({ timeout_ms: running.config.SHUTDOWN_TIMEOUT_MS }, 'shutdown timed out');
      process.exit(1);
    }, running.config.SHUTDOWN_TIMEOUT_MS);
    timer.unref();
    void running
      .stop()
      .then(() => stopTelemetry())
      .then(() => process.exit(0))
      .catch((err: unknown) => {
        running.logger.error({ err }, 'shutdown failed');
        process.exit(1);
      });
  };
  process.once('SIGTERM', () => shutdown('SIGTERM'));
  process.once('SIGINT', () => shutdown('SIGINT'));
}
