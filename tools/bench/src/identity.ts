// `bench identity`: how many access tokens identity issues per second (OAuth2 client credentials
// over gRPC, against the built identity process and its database), and how many token checks per
// second the gRPC transport's authenticator does (signature from the cached JWKS, claims, the
// revocation lookup in Redis, scope), framed by the raw cost of their parts on this machine in the
// same run: a bare ES256 verify, a bare scrypt of the parameters of the legacy client-secret hash, a
// bare Redis EXISTS round trip, and pgbench.
import { execFile } from 'child_process';
import { createSign, createVerify, generateKeyPairSync, randomBytes, scrypt } from 'crypto';
import { join } from 'path';
import { promisify } from 'util';
import * as grpc from '@grpc/grpc-js';
import Redis from 'ioredis';
import { TokenServiceService } from '@citybase/contracts/citybase/identity/v1/clients';
import { rpcAuthDeclarations } from '@citybase/contracts/rpc-auth';
import { ClientRevocations, JwksCache, RpcAuthenticator } from '@citybase/platform';
import {
  createTestDatabase,
  grpcClient,
  spawnService,
  TEST_IDENTITY_MASTER_KEY,
  testEndpoints,
  uniqueName,
} from '@citybase/platform/testing';
import { pgbenchBaseline, pgbenchFigure, pgbenchParams, pgbenchReportParams } from './baselines';
import {
  Cleanup,
  Figure,
  figureValues,
  note,
  now,
  printBenchmarkFigures,
  REPO_ROOT,
  processUsage,
  profiledSpawn,
  writeBenchReport,
} from './common';
import { intFromEnv, percentiles, perSecond, round } from './stats';

const CITY = 'bench-city';
/** Any guarded RPC: the authenticator's work does not depend on which. */
const GUARDED_PATH = '/citybase.payment.v1.PaymentService/GetPayment';

export interface IdentityParams {
  tokens: number;
  /** Calls before the measured ones: V8 compiles the hot path meanwhile. */
  tokensWarmup: number;
  issueConcurrency: number;
  verifications: number;
  verifyConcurrency: number;
}

export function identityParams(env: NodeJS.ProcessEnv): IdentityParams {
  return {
    // 600 after 20 warm-up calls measured mostly the warm-up: 650/s against 1,426/s for 10,000
    tokens: intFromEnv(env, 'BENCH_TOKENS', 10_000),
    tokensWarmup: intFromEnv(env, 'BENCH_TOKENS_WARMUP', 2_000),
    issueConcurrency: intFromEnv(env, 'BENCH_ISSUE_CONCURRENCY', 8),
    verifications: intFromEnv(env, 'BENCH_VERIFICATIONS', 40_000),
    verifyConcurrency: intFromEnv(env, 'BENCH_VERIFY_CONCURRENCY', 32),
  };
}

/** Runs `count` calls of `fn` with `concurrency` in flight; returns per-call latencies (ms) and the wall time. */
async function load(
  count: number,
  concurrency: number,
  fn: (i: number) => Promise<unknown>,
): Promise<{ latencies: number[]; elapsedMs: number }> {
  const latencies: number[] = new Array<number>(count);
  let next = 0;
  const started = now();
  await Promise.all(
    Array.from({ length: Math.min(concurrency, count) }, async () => {
      for (let i = next++; i < count; i = next++) {
        const t = now();
        await fn(i);
        latencies[i] = now() - t;
      }
    }),
  );
  return { latencies, elapsedMs: now() - started };
}

export async function runIdentity(cleanup: Cleanup): Promise<void> {
  const p = identityParams(process.env);
  const pp = pgbenchParams(process.env);
  const started = Date.now();

  note('starting identity (built process) on a scratch database');
  const db = await createTestDatabase('bench_identity');
  cleanup.add('identity database', () => db.drop());
  const env = {
    DATABASE_URL: db.url,
    CITY_ID: CITY,
    IDENTITY_MASTER_KEY: TEST_IDENTITY_MASTER_KEY,
    KAFKA_TOPIC_PREFIX: `${uniqueName('bench')}.`,
    LOG_LEVEL: process.env.BENCH_LOG_LEVEL ?? 'warn',
  };
  const { stdout } = await promisify(execFile)(
    process.execPath,
    [join(REPO_ROOT, 'services', 'identity', 'dist', 'admin.js'), 'init-city', '--name', 'bench admin'],
    { env: { ...process.env, ...env } },
  );
  const admin = JSON.parse(stdout.trim().split('\n').pop() ?? '{}') as {
    client_id: string;
    client_secret: string;
  };
  const identity = await spawnService(
    'identity',
    ({ httpPort }) => ({ ...env, AUTH_JWKS_URL: `http://127.0.0.1:${httpPort}/.well-known/jwks.json` }),
    profiledSpawn(),
  );
  cleanup.add('identity process', () => identity.stop());
  await identity.ready();
  const tokens = grpcClient(TokenServiceService, identity.grpcAddress);
  cleanup.add('gRPC client', () => Promise.resolve(tokens.close()));
  const issue = () =>
    tokens.issueToken({
      grantType: 'client_credentials',
      clientId: admin.client_id,
      clientSecret: admin.client_secret,
      scope: 'payment:read',
    });

  note(`issuing ${p.tokens} tokens, ${p.issueConcurrency} in flight (after ${p.tokensWarmup} warm-up)`);
  await load(p.tokensWarmup, p.issueConcurrency, issue);
  const issued = await load(p.tokens, p.issueConcurrency, issue);
  const [issueP50, issueP99] = percentiles(issued.latencies, [50, 99]);

  note(
    `verifying ${p.verifications} tokens in the transport's authenticator, ${p.verifyConcurrency} in flight`,
  );
  const redis = new Redis(testEndpoints.redisUrl(), { lazyConnect: true, maxRetriesPerRequest: 1 });
  await redis.connect();
  cleanup.add('redis', () => Promise.resolve(redis.disconnect()));
  const authenticator = new RpcAuthenticator({
    declarations: rpcAuthDeclarations(),
    keys: new JwksCache({ url: `${identity.httpUrl}/.well-known/jwks.json` }),
    city: CITY,
    issuer: 'citybase-identity',
    revocations: new ClientRevocations(redis, CITY),
  });
  // distinct real tokens, so nothing is cached per token
  const pool = await Promise.all(Array.from({ length: 64 }, () => issue()));
  const metadata = pool.map(({ accessToken }) => {
    const md = new grpc.Metadata();
    md.set('authorization', `Bearer ${accessToken}`);
    return md;
  });
  const verify = (i: number) => authenticator.authenticate(GUARDED_PATH, metadata[i % metadata.length]);
  await load(2_000, p.verifyConcurrency, verify);
  const verified = await load(p.verifications, p.verifyConcurrency, verify);
  const [verifyP50, verifyP99] = percentiles(verified.latencies, [50, 99]);
  const spawned = { identity: processUsage(identity.proc.pid!) };
  await identity.stop();

  note('baselines: bare ES256 verify, bare scrypt, bare Redis EXISTS, pgbench');
  const es256 = bareEs256(Math.min(p.verifications, 20_000));
  // about 47 hashes/s: a few seconds of them are enough for the rate
  const scryptPerS = await bareScrypt(200, p.issueConcurrency);
  const exists = await load(p.verifications, p.verifyConcurrency, () => redis.exists(`bench:${CITY}:absent`));
  const pg = await pgbenchBaseline(pp, cleanup);

  const figures: Figure[] = [
    {
      name: 'issue_per_s',
      value: round(perSecond(p.tokens, issued.elapsedMs), 1),
      unit: 'tokens/s',
      how: `gRPC TokenService.IssueToken (client credentials: client lookup, HMAC-SHA-256 secret check, ES256 sign) against the built identity process, ${p.tokens} calls, ${p.issueConcurrency} in flight`,
    },
    {
      name: 'issue_p50_ms',
      value: round(issueP50, 2),
      unit: 'ms',
      how: 'per IssueToken call at that load, median',
    },
    { name: 'issue_p99_ms', value: round(issueP99, 2), unit: 'ms', how: 'as issue_p50_ms, 99th percentile' },
    {
      name: 'verify_per_s',
      value: round(perSecond(p.verifications, verified.elapsedMs), 1),
      unit: 'checks/s',
      how: `RpcAuthenticator.authenticate (the check every gRPC call passes): bearer parse, ES256 verify with the key from identity's JWKS (cached), claims, Redis revocation lookup, scope; ${p.verifications} checks of 64 distinct tokens, ${p.verifyConcurrency} in flight, one process`,
    },
    { name: 'verify_p50_ms', value: round(verifyP50, 3), unit: 'ms', how: 'per check at that load, median' },
    {
      name: 'verify_p99_ms',
      value: round(verifyP99, 3),
      unit: 'ms',
      how: 'as verify_p50_ms, 99th percentile',
    },
    {
      name: 'baseline_es256_verify_per_s',
      value: round(es256, 1),
      unit: 'verifies/s',
      how: 'bare node:crypto ES256 (P-256, SHA-256, ieee-p1363) verify of one signature in a loop, one thread',
    },
    {
      name: 'baseline_scrypt_per_s',
      value: round(scryptPerS, 1),
      unit: 'hashes/s',
      how: `bare node:crypto scrypt N=16384 r=8 p=1 (the legacy client-secret hash, checked until a row is upgraded to HMAC), ${p.issueConcurrency} in flight on the libuv pool`,
    },
    {
      name: 'baseline_redis_exists_per_s',
      value: round(perSecond(p.verifications, exists.elapsedMs), 1),
      unit: 'calls/s',
      how: `bare ioredis EXISTS, ${p.verifications} calls, ${p.verifyConcurrency} in flight`,
    },
    pgbenchFigure(pp, pg),
  ];
  printBenchmarkFigures('identity', started, figures);
  await writeBenchReport(
    'identity',
    started,
    figureValues(figures),
    {
      tokens: p.tokens,
      issue_concurrency: p.issueConcurrency,
      verifications: p.verifications,
      verify_concurrency: p.verifyConcurrency,
      ...pgbenchReportParams(pp),
    },
    spawned,
  );
}

/** Bare ES256 verifications per second, one thread. */
function bareEs256(count: number): number {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const data = randomBytes(300);
  const signature = createSign('sha256').update(data).sign({ key: privateKey, dsaEncoding: 'ieee-p1363' });
  const t = now();
  for (let i = 0; i < count; i++) {
    if (
      !createVerify('sha256').update(data).verify({ key: publicKey, dsaEncoding: 'ieee-p1363' }, signature)
    ) {
      throw new Error('bare ES256 verify failed');
    }
  }
  return perSecond(count, now() - t);
}

/** Bare scrypt hashes per second at the parameters of the legacy client-secret hash. */
async function bareScrypt(count: number, concurrency: number): Promise<number> {
  const hash = promisify(scrypt) as (pw: Buffer, salt: Buffer, len: number, opts: object) => Promise<Buffer>;
  const secret = randomBytes(32);
  const { elapsedMs } = await load(count, concurrency, () =>
    hash(secret, randomBytes(16), 32, { N: 16384, r: 8, p: 1, maxmem: 64 * 1024 * 1024 }),
  );
  return perSecond(count, elapsedMs);
}
