import { randomUUID } from 'node:crypto';
import { status } from '@grpc/grpc-js';
import Redis from 'ioredis';
import { Client } from 'pg';
import {
  CampaignStatus,
  FundingSource,
  MarketingServiceService,
} from '@citybase/contracts/citybase/marketing/v1/marketing';
import {
  createTestDatabase,
  errorCode,
  grpcClient,
  kafkaTestPrefix,
  ServiceProcess,
  TestDatabase,
  testEndpoints,
  TestIssuer,
  uniqueName,
  waitFor,
} from '@citybase/platform/testing';
import type { ServiceError } from '@grpc/grpc-js';
import { callWhileRestarting, spawnReadyService } from '../src';

/**
 * A flash sale under chaos: 2,000 residents (and 200 of them twice) claim from a 1,500-coupon
 * flash-sale campaign (per-user limit 1) through the built marketing process, 16 at a time, retrying
 * calls that failed with the same request id. Midway Redis loses exactly this campaign's keys (never
 * FLUSHALL: Redis is shared), later the marketing process is SIGKILLed and started again on new
 * ports (its claims between the gate and PostgreSQL die with it), then the keys go once more.
 * Afterwards: no more coupons than the budget, no resident beyond the limit, every answered coupon
 * is in PostgreSQL exactly once, and the gate's counters in Redis agree with PostgreSQL (the
 * reconcile job rebuilds what drifted); a second wave then sells exactly what is left.
 */
describe('marketing: Redis keys flushed and SIGKILL during a flash sale', () => {
  const COUPONS = 1_500;
  let issuer: TestIssuer;
  let db: TestDatabase;
  let svc: ServiceProcess | undefined;
  let redis: Redis;
  const prefix = kafkaTestPrefix('mktkill');
  const gatePrefix = uniqueName('e2e-mkt-gate');
  const operatorId = 'op-flash';
  const tenancy = { operatorId, projectId: '', merchantId: '' };

  const start = () =>
    spawnReadyService('marketing', {
      db,
      kafkaPrefix: prefix,
      issuer,
      env: { MARKETING_GATE_KEY_PREFIX: gatePrefix, MARKETING_GATE_RECONCILE_INTERVAL_MS: '500' },
    });

  beforeAll(async () => {
    issuer = await TestIssuer.start();
    db = await createTestDatabase('e2e_mktkill');
    redis = new Redis(testEndpoints.redisUrl());
    svc = await start();
  }, 120_000);

  afterAll(async () => {
    await svc?.stop('SIGKILL');
    const keys = await redis.keys(`${gatePrefix}:*`);
    if (keys.length > 0) await redis.del(...keys);
    redis.disconnect();
    await db?.drop();
    await issuer?.stop();
  });

  it('never sells beyond the budget or a limit, and PostgreSQL and Redis agree afterwards', async () => {
    let address = svc!.grpcAddress;
    const metadata = () =>
      issuer.metadata({
        scopes: ['marketing:configure', 'marketing:claim', 'marketing:read'],
        operators: [operatorId],
        sub: 'marketing-chaos-app',
      });
    const open = () => grpcClient(MarketingServiceService, address, metadata);
    const call = <T>(fn: (c: ReturnType<typeof open>) => Promise<T>) =>
      callWhileRestarting(open, fn, {
        // the gate being rebuilt (ABORTED GATE_BUSY) is worth a retry too
        alsoRetry: (err) => err.code === status.ABORTED,
      });
    const now = Math.floor(Date.now() / 1000);
    const campaign = (
      await call((c) =>
        c.createCampaign({
          requestId: randomUUID(),
          campaign: {
            campaignId: '',
            tenancy,
            name: 'Flash',
            status: CampaignStatus.CAMPAIGN_STATUS_UNSPECIFIED,
            discount: { kind: { $case: 'amountOff', value: { currency: 'CNY', amountMinor: 800n } } },
            funding: FundingSource.FUNDING_SOURCE_OPERATOR,
            targeting: { projectIds: [], merchantIds: [], scenarios: [], tiers: [] },
            stacking: { exclusive: false, group: '', priority: 0 },
            claimFrom: { seconds: BigInt(now - 3600), nanos: 0 },
            claimUntil: { seconds: BigInt(now + 86_400), nanos: 0 },
            couponValidDays: 7,
            useUntil: undefined,
            maxCoupons: BigInt(COUPONS),
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
        }),
      )
    ).campaign!;
    const campaignId = campaign.campaignId;
    await call((c) =>
      c.updateCampaign({
        requestId: randomUUID(),
        tenancy,
        campaignId,
        status: CampaignStatus.CAMPAIGN_STATUS_ACTIVE,
        maxCoupons: 0n,
        maxSpend: undefined,
        claimUntil: undefined,
      }),
    );
    const flushCampaignKeys = async () => {
      const keys = await redis.keys(`${gatePrefix}:{${campaignId}}:*`);
      if (keys.length > 0) await redis.del(...keys);
      return keys.length;
    };

    // 2,000 residents, and residents 0-199 a second time (a new request: the limit refuses it)
    const claims = [
      ...Array.from({ length: 2_000 }, (_, i) => `resident-${i}`),
      ...Array.from({ length: 200 }, (_, i) => `resident-${i}`),
    ].map((userId) => ({ requestId: randomUUID(), userId }));
    const coupons = new Map<string, string>();
    const refused: Record<string, number> = {};
    const claimWave = async (wave: typeof claims, chaos: boolean) => {
      let next = 0;
      let flushed = 0;
      let killed = false;
      const worker = async () => {
        for (let i = next++; i < wave.length; i = next++) {
          if (chaos && i === 400 && flushed === 0) flushed += await flushCampaignKeys();
          if (chaos && i === 900 && !killed) {
            killed = true;
            await svc!.stop('SIGKILL');
            svc = await start();
            address = svc.grpcAddress;
          }
          if (chaos && i === 1_400 && flushed === 1) flushed += (await flushCampaignKeys()) > 0 ? 1 : 0;
          const { requestId, userId } = wave[i]!;
          try {
            const answer = await call((c) =>
              c.claimCoupon({ requestId, tenancy, campaignId, code: '', userId, householdId: '' }),
            );
            coupons.set(answer.coupon!.couponId, userId);
          } catch (err) {
            const code = errorCode(err as ServiceError) ?? String(err);
            refused[code] = (refused[code] ?? 0) + 1;
          }
        }
      };
      await Promise.all(Array.from({ length: 16 }, worker));
      if (chaos) expect([flushed > 0, killed]).toEqual([true, true]);
    };
    await claimWave(claims, true);
    // refusals are the budget's and the limit's only (calls cut by the kill were retried)
    expect(
      Object.keys(refused).filter((k) => !['CAMPAIGN_SOLD_OUT', 'USER_LIMIT_REACHED'].includes(k)),
    ).toEqual([]);

    const pg = new Client({ connectionString: db.url });
    await pg.connect();
    try {
      const truth = async () => {
        const { rows } = await pg.query<{ claimed: number; epoch: string; coupons: number; users: number }>(
          `SELECT c.claimed::int AS claimed, c.gate_epoch::text AS epoch,
                  (SELECT count(*)::int FROM coupons WHERE campaign_id = c.campaign_id) AS coupons,
                  (SELECT count(DISTINCT user_id)::int FROM coupons WHERE campaign_id = c.campaign_id) AS users
             FROM campaigns c WHERE campaign_id = $1`,
          [campaignId],
        );
        return rows[0]!;
      };
      const agree = async () => {
        const t = await truth();
        const hash = await redis.hgetall(`${gatePrefix}:{${campaignId}}:${t.epoch}`);
        if (hash.stock !== String(COUPONS - t.claimed)) return undefined;
        const { rows } = await pg.query<{ user_id: string; n: number }>(
          'SELECT user_id, count(*)::int AS n FROM coupons WHERE campaign_id = $1 GROUP BY user_id',
          [campaignId],
        );
        const users = Object.entries(hash).filter(([f]) => f.startsWith('U:'));
        const expected = new Map(rows.map((r) => [`U:${r.user_id}`, String(r.n)]));
        if (users.length !== expected.size || users.some(([f, v]) => expected.get(f) !== v)) return undefined;
        return t;
      };
      const after = await truth();
      // never beyond the budget; no resident beyond the limit; every answer is one coupon row
      expect(after.claimed).toBeLessThanOrEqual(COUPONS);
      expect([after.coupons, after.users]).toEqual([after.claimed, after.claimed]);
      expect(coupons.size).toBe(after.claimed);
      // the gate agrees with PostgreSQL (rebuilt after the flush, the drift of the kill reconciled)
      await waitFor('the gate agrees with PostgreSQL', agree, 60_000, 250);

      // a second wave of new residents sells exactly what is left
      const second = Array.from({ length: 400 }, (_, i) => ({
        requestId: randomUUID(),
        userId: `late-${i}`,
      }));
      await claimWave(second, false);
      const final = await waitFor('the gate agrees with PostgreSQL', agree, 60_000, 250);
      expect([final.claimed, final.coupons, final.users, coupons.size]).toEqual([
        COUPONS,
        COUPONS,
        COUPONS,
        COUPONS,
      ]);
    } finally {
      await pg.end();
    }
  }, 600_000);
});
