import { z } from 'zod';

/** Thrown when the environment does not satisfy a service's configuration schema. Lists every problem. */
export class ConfigError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

const port = z.coerce.number().int().min(1).max(65535);
const pgUrl = z
  .string()
  .url()
  .refine((v) => /^postgres(ql)?:\/\//.test(v), 'must be a postgres:// URL');
const redisUrl = z
  .string()
  .url()
  .refine((v) => /^rediss?:\/\//.test(v), 'must be a redis:// URL');
const brokers = z
  .string()
  .min(1)
  .transform((v) => v.split(',').map((b) => b.trim()))
  .refine(
    (list) => list.every((b) => /^[^:\s]+:\d+$/.test(b)),
    'must be a comma-separated list of host:port',
  );

/** A secret key setting: the base64 of exactly 32 random bytes (AES-256 / HKDF input keys). */
export const base64Key32 = z
  .string()
  .refine((v) => Buffer.from(v, 'base64').length === 32 && /^[A-Za-z0-9+/]+=*$/.test(v), {
    message: 'must be the base64 of exactly 32 bytes (e.g. `openssl rand -base64 32`)',
  });

/** Settings every Citybase service process has. Service schemas extend this one. */
export const baseServiceConfig = z.object({
  CITY_ID: z
    .string()
    .regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'must be lowercase letters, digits and dashes')
    .default('demo-city'),
  GRPC_HOST: z.string().min(1).default('127.0.0.1'),
  GRPC_PORT: port,
  HTTP_HOST: z.string().min(1).default('127.0.0.1'),
  HTTP_PORT: port,
  DATABASE_URL: pgUrl,
  DATABASE_POOL_SIZE: z.coerce.number().int().min(1).max(200).default(10),
  KAFKA_BROKERS: z.string().default('127.0.0.1:9092').pipe(brokers),
  KAFKA_TOPIC_PREFIX: z
    .string()
    .regex(/^[a-zA-Z0-9._-]*$/, 'may contain only letters, digits, dots, dashes and underscores')
    .default(''),
  /** How long the group waits for a consumer that stopped heartbeating (e.g. a killed process). */
  KAFKA_SESSION_TIMEOUT_MS: z.coerce.number().int().min(6_000).max(300_000).default(30_000),
  KAFKA_TOPIC_PARTITIONS: z.coerce.number().int().min(1).max(1000).default(6),
  REDIS_URL: redisUrl.default('redis://127.0.0.1:6379'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  OTEL_EXPORTER_OTLP_ENDPOINT: z.string().url().optional(),
  SHUTDOWN_TIMEOUT_MS: z.coerce.number().int().min(0).max(120_000).default(10_000),
  /** Where identity publishes the public keys every service verifies access tokens with. */
  AUTH_JWKS_URL: z.string().url().default('http://127.0.0.1:8081/.well-known/jwks.json'),
  /** The `iss` accepted in access tokens (identity's TOKEN_ISSUER). */
  AUTH_TOKEN_ISSUER: z.string().min(1).default('citybase-identity'),
});
export type BaseServiceConfig = z.infer<typeof baseServiceConfig>;

/**
 * A service's schema: the base settings with that service's own defaults for ports and database,
 * so `npx nx serve <name>` works on a development machine with no variables set.
 */
export function serviceConfigSchema(defaults: { grpcPort: number; httpPort: number; database: string }) {
  return baseServiceConfig.extend({
    GRPC_PORT: port.default(defaults.grpcPort),
    HTTP_PORT: port.default(defaults.httpPort),
    DATABASE_URL: pgUrl.default(`postgres://postgres@127.0.0.1:5432/${defaults.database}`),
  });
}

/**
 * Parses the environment once into a typed, frozen object. Empty strings count as unset, so
 * `FOO=` falls back to the default instead of failing obscurely. Every problem is reported at once.
 */
export function loadConfig<S extends z.ZodType>(
  schema: S,
  env: NodeJS.ProcessEnv = process.env,
): Readonly<z.infer<S>> {
  const cleaned = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const result = schema.safeParse(cleaned);
  if (!result.success) {
    const problems = result.error.issues.map((issue) => {
      const name = issue.path.join('.') || '(root)';
      const missing = issue.code === 'invalid_type' && cleaned[name] === undefined;
      return missing ? `${name}: required but not set` : `${name}: ${issue.message}`;
    });
    throw new ConfigError(problems);
  }
  return Object.freeze(result.data);
}
