// `npm run bench -- marketing`: coupon claims per second on one hot flash-sale campaign through the
// built marketing process (gRPC > the Redis gate's Lua script > PostgreSQL for the admitted ones),
// with what was oversold (must be 0), next to a bare EVALSHA loop against the same Redis in the
// same run (baseline_redis_ops).
import { randomUUID } from 'crypto';
import Redis from 'ioredis';
import { Client } from 'pg';
import {
  CampaignStatus,
  FundingSource,
  MarketingServiceService,
} from '@citybase/contracts/citybase/marketing/v1/marketing';
import {
  errorCode,
  grpcClient,
  spawnService,
  testEndpoints,
  TestIssuer,
  uniqueName,
} from '@citybase/platform/testing';
import type { ServiceError } from '@grpc/grpc-js';
import {
  benchDatabase,
  Cleanup,
  Figure,
  figureValues,
  note,
  now,
  printBenchmarkFigures,
  processUsage,
  writeBenchReport,
  profiledSpawn,
} from './common';
import { measureQuoteLatency } from './marketing-quote';
import { intFromEnv, percentiles, perSecond, round } from './stats';

export interface MarketingBenchParams {
  claims: number;
  coupons: number;
  concurrency: number;
  /** QuoteDiscount calls per second and for how long (the quote_p99_ms figure). */
  quoteRate: number;
  quoteSeconds: number;
}

export function marketingBenchParams(env: NodeJS.ProcessEnv): MarketingBenchParams {
  return {
    claims: intFromEnv(env, 'BENCH_CLAIMS', 20_000),
    coupons: intFromEnv(env, 'BENCH_CLAIM_COUPONS', 1_000),
    concurrency: intFromEnv(env, 'BENCH_CLAIM_CONCURRENCY', 64),
    quoteRate: intFromEnv(env, 'BENCH_QUOTE_RATE', 1_000),
    quoteSeconds: intFromEnv(env, 'BENCH_QUOTE_SECONDS', 20),
  };
}

/** The shape of the gate's script (services/marketing/src/coupons/flash-gate.ts): stock and one holder count. */
const BASELINE_LUA = `
local stock = redis.call('HGET', KEYS[1], 'stock')
if not stock then return 'MISSING' end
if tonumber(stock) <= 0 then return 'SOLD_OUT' end
local n = tonumber(redis.call('HGET', KEYS[1], ARGV[1]) or '0')
if n >= tonumber(ARGV[2]) then return 'LIMIT' end
redis.call('HINCRBY', KEYS[1], 'stock', -1)
redis.call('HINCRBY', KEYS[1], ARGV[1], 1)
return 'OK'
`;

async function load(
  count: number,
  concurrency: number,
  fn: (i: number) => Promise<unknown>,
): Promise<{ latencies: number[]; elapsedMs: number }> {
  const latencies = new Array<number>(count);
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

export async function runMarketing(cleanup: Cleanup): Promise<void> {
  const p = marketingBenchParams(process.env);
  const started = Date.now();
  const issuer = await TestIssuer.start();
  cleanup.add('token issuer', () => issuer.stop());
  const { db, synchronousCommit } = await benchDatabase('bench_marketing', cleanup);
  const gatePrefix = uniqueName('bench-mkt-gate');
  const redis = new Redis(testEndpoints.redisUrl(), { lazyConnect: true, maxRetriesPerRequest: 1 });
  await redis.connect();
  cleanup.add('redis keys and connection', async () => {
    // only this run's keys: Redis is shared (never FLUSHALL)
    const keys = await redis.keys(`${gatePrefix}:*`);
    if (keys.length > 0) await redis.del(...keys);
    redis.disconnect();
  });
  const marketing = await spawnService(
    'marketing',
    {
      DATABASE_URL: db.url,
      DATABASE_POOL_SIZE: '20',
      KAFKA_TOPIC_PREFIX: `${uniqueName('benchmkt')}.`,
      AUTH_JWKS_URL: issuer.jwksUrl,
      MARKETING_GATE_KEY_PREFIX: gatePrefix,
      LOG_LEVEL: process.env.BENCH_LOG_LEVEL ?? 'warn',
    },
    profiledSpawn(),
  );
  cleanup.add('marketing process', () => marketing.stop());
  await marketing.ready();
  const operatorId = 'bench-operator';
  // one token for the run, as a residents' app holds one (a new token per call would measure signing)
  const metadata = issuer.metadata({
    scopes: ['marketing:configure', 'marketing:claim', 'marketing:read'],
    operators: [operatorId],
  });
  const client = grpcClient(MarketingServiceService, marketing.grpcAddress, () => metadata);
  cleanup.add('gRPC client', () => Promise.resolve(client.close()));
  const tenancy = { operatorId, projectId: '', merchantId: '' };
  const t = Math.floor(Date.now() / 1000);
  const { campaign: created } = await client.createCampaign({
    requestId: randomUUID(),
    campaign: {
      campaignId: '',
      tenancy,
      name: 'Bench flash sale',
      status: CampaignStatus.CAMPAIGN_STATUS_UNSPECIFIED,
      discount: { kind: { $case: 'amountOff', value: { currency: 'CNY', amountMinor: 500n } } },
      funding: FundingSource.FUNDING_SOURCE_OPERATOR,
      targeting: { projectIds: [], merchantIds: [], scenarios: [], tiers: [] },
      stacking: { exclusive: false, group: '', priority: 0 },
      claimFrom: { seconds: BigInt(t - 3600), nanos: 0 },
      claimUntil: { seconds: BigInt(t + 86_400), nanos: 0 },
      couponValidDays: 7,
      useUntil: undefined,
      maxCoupons: BigInt(p.coupons),
      maxSpend: undefined,
      perUserLimit: 1,
      perHouseholdLimit: 0,
      perUserDailyLimit: 0,
      flashSale: true,
      genericCode: '',
      claimed: 0n,
      redeemed: 0n,
      claimedValue: undefined,
      redeemedDiscount: undefined,
      createdAt: undefined,
      updatedAt: undefined,
    },
  });
  if (!created) throw new Error('CreateCampaign answered no campaign');
  const campaignId = created.campaignId;
  await client.updateCampaign({
    requestId: randomUUID(),
    tenancy,
    campaignId,
    status: CampaignStatus.CAMPAIGN_STATUS_ACTIVE,
    maxCoupons: 0n,
    maxSpend: undefined,
    claimUntil: undefined,
  });
  // warm-up on another campaign would change nothing the gate caches per campaign: the first
  // claims build the gate's counters, as in a real sale
  const outcomes: Record<string, number> = {};
  let admitted = 0;
  const admittedLatency: number[] = [];
  let lastAdmittedAt = 0;
  const loadStarted = now();
  note(
    `${p.claims} claims (distinct residents, per-user limit 1) of ${p.coupons} coupons, ${p.concurrency} in flight`,
  );
  const run = await load(p.claims, p.concurrency, async (i) => {
    const t0 = now();
    try {
      await client.claimCoupon({
        requestId: `claim-${i}`,
        tenancy,
        campaignId,
        code: '',
        userId: `resident-${i}`,
        householdId: '',
      });
      admitted++;
      admittedLatency.push(now() - t0);
      lastAdmittedAt = now();
      outcomes.OK = (outcomes.OK ?? 0) + 1;
    } catch (err) {
      const code = errorCode(err as ServiceError) ?? String((err as Error).message);
      outcomes[code] = (outcomes[code] ?? 0) + 1;
    }
  });
  const spawned = { marketing: processUsage(marketing.proc.pid ?? 0) };
  const pg = new Client({ connectionString: db.url });
  await pg.connect();
  let claimedInDb: number;
  let coupons: number;
  try {
    const { rows } = await pg.query<{ claimed: number; coupons: number }>(
      `SELECT claimed::int AS claimed, (SELECT count(*)::int FROM coupons WHERE campaign_id = $1) AS coupons
         FROM campaigns WHERE campaign_id = $1`,
      [campaignId],
    );
    claimedInDb = rows[0]?.claimed ?? 0;
    coupons = rows[0]?.coupons ?? 0;
  } finally {
    await pg.end();
  }
  await marketing.stop();
  const oversold = Math.max(
    0,
    admitted - p.coupons,
    Number(coupons) - p.coupons,
    Number(BigInt(claimedInDb)) - p.coupons,
  );

  note(`baseline: bare EVALSHA of the gate's script shape, ${p.claims} calls, ${p.concurrency} in flight`);
  const baselineKey = `${gatePrefix}:baseline`;
  await redis.hset(baselineKey, 'stock', String(p.coupons));
  redis.defineCommand('benchGate', { numberOfKeys: 1, lua: BASELINE_LUA });
  const gate = redis as Redis & { benchGate(key: string, field: string, limit: string): Promise<string> };
  await load(200, p.concurrency, (i) => gate.benchGate(baselineKey, `U:warm-${i}`, '1'));
  await redis.hset(baselineKey, 'stock', String(p.coupons));
  const bare = await load(p.claims, p.concurrency, (i) =>
    gate.benchGate(baselineKey, `U:resident-${i}`, '1'),
  );
  await redis.del(baselineKey);

  // the quote figure: its own marketing process and database (marketing-quote.ts)
  const quote = await measureQuoteLatency(cleanup, { seconds: p.quoteSeconds, ratePerSecond: p.quoteRate });

  const claimsPerS = perSecond(p.claims, run.elapsedMs);
  const redisOps = perSecond(p.claims, bare.elapsedMs);
  const [p50, p99] = percentiles(run.latencies, [50, 99]);
  const [admittedP50, admittedP99] = percentiles(admittedLatency, [50, 99]);
  const figures: Figure[] = [
    {
      name: 'claims_per_s',
      value: round(claimsPerS, 1),
      unit: 'claims/s',
      how: `ClaimCoupon over gRPC on one flash-sale campaign of ${p.coupons} coupons (per-user limit 1): ${p.claims} claims of distinct residents, ${p.concurrency} in flight from one client process, answered (admitted or refused) per second; the marketing process built, PostgreSQL at synchronous_commit=${synchronousCommit}`,
    },
    {
      name: 'oversold',
      value: oversold,
      unit: 'coupons',
      how: `coupons given beyond the budget: max of (admitted answers, coupon rows, campaigns.claimed) - ${p.coupons}; must be 0`,
    },
    {
      name: 'admitted',
      value: admitted,
      unit: 'coupons',
      how: 'claims answered with a coupon (the budget when the sale sold out)',
    },
    {
      name: 'claim_p50_ms',
      value: round(p50, 2),
      unit: 'ms',
      how: 'ClaimCoupon latency at that load, all answers, median',
    },
    { name: 'claim_p99_ms', value: round(p99, 2), unit: 'ms', how: 'as claim_p50_ms, 99th percentile' },
    {
      name: 'admitted_p99_ms',
      value: round(admittedP99, 2),
      unit: 'ms',
      how: `ClaimCoupon latency of the admitted claims (gate, then the PostgreSQL transaction), 99th percentile (median ${round(admittedP50, 2)} ms)`,
    },
    {
      name: 'baseline_redis_ops',
      value: round(redisOps, 1),
      unit: 'ops/s',
      how: `bare ioredis EVALSHA (defineCommand) of a script of the gate's shape (HGET stock, HGET holder, HINCRBY x2), ${p.claims} calls, ${p.concurrency} in flight, from the bench process, same run`,
    },
    {
      name: 'claims_per_s_to_redis_ops',
      value: round(claimsPerS / redisOps, 3),
      unit: 'ratio',
      how: 'claims_per_s / baseline_redis_ops: what gRPC, auth, validation and the service add around the gate',
    },
    {
      name: 'quote_p99_ms',
      value: round(quote.quote_p99_ms, 2),
      unit: 'ms',
      how: `QuoteDiscount of three stacked coupons sent open loop at ${p.quoteRate}/s for ${p.quoteSeconds} s, each measured from when it was due (median ${round(quote.quote_p50_ms, 2)} ms, max ${round(quote.quote_max_ms, 2)} ms; ${quote.quotes} answered at ${round(quote.quotes_per_s, 1)}/s, ${quote.quote_errors} errors); its own marketing process`,
    },
  ];
  printBenchmarkFigures('marketing', started, figures);
  process.stdout.write(
    [
      '',
      'diagnostics (not in the JSON):',
      `  outcomes ${JSON.stringify(outcomes)}`,
      `  sold out (last admitted answer) after ${round((lastAdmittedAt - loadStarted) / 1000, 2)} s of ${round(run.elapsedMs / 1000, 2)} s`,
      `  target claims_per_s >= 10,000: ${claimsPerS >= 10_000 ? 'met' : 'NOT met'} on this machine`,
      '',
    ].join('\n'),
  );
  await writeBenchReport(
    'marketing',
    started,
    figureValues(figures),
    { ...p, synchronous_commit: synchronousCommit },
    spawned,
  );
}
