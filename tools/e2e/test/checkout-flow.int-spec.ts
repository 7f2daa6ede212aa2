import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { Pool } from 'pg';
import { cityPeriod, toTimestamp } from '@citybase/platform';
import {
  createTestDatabase,
  freePort,
  grpcClient,
  kafkaTestPrefix,
  PromiseClient,
  routeProjectToSandbox,
  SandboxChannelProcess,
  ServiceProcess,
  spawnSandboxChannel,
  spawnService,
  startTokenServiceFake,
  TestDatabase,
  TestIssuer,
  TokenServiceFake,
  REPO_ROOT,
  uniqueName,
  waitFor,
} from '@citybase/platform/testing';
import {
  CampaignStatus,
  CouponStatus,
  FundingSource,
  MarketingServiceService,
} from '@citybase/contracts/citybase/marketing/v1/marketing';
import {
  CheckoutStatus,
  CreateCheckoutRequest,
  PaymentScenario,
  PaymentServiceService,
} from '@citybase/contracts/citybase/payment/v1/payment';
import {
  PointsServiceService,
  ReservationStatus,
  ShortfallPolicy,
} from '@citybase/contracts/citybase/points/v1/points';

/**
 * Checkouts end to end with every piece a process: payment (the saga), points, marketing, settlement
 * (consuming payment's events on the same Kafka namespace) and the sandbox channel. Each case checks
 * what points and marketing hold afterwards (all three parts kept, or none) and runs settlement's
 * ledger check (services/settlement/dist/admin.js check-ledger): it passes after each.
 * Settlement's postings of the coupon and points parts (CheckoutCompleted / CheckoutRefunded) are
 * the checkout-ledger branch's; here the ledger must stay balanced with the money part alone.
 */

const OP = `op-flow-${randomUUID().slice(0, 6)}`;
const PROJECT = 'p-flow';
const SECRET = 'payment-chaos-secret';

interface Proc {
  proc: ServiceProcess;
  grpcAddress: string;
  httpUrl: string;
}

describe('checkout flow: payment, points, marketing, settlement and the sandbox channel as processes', () => {
  let issuer: TestIssuer;
  let identity: TokenServiceFake;
  let sandbox: SandboxChannelProcess;
  const dbs = new Map<string, TestDatabase>();
  const procs = new Map<string, Proc>();
  const ports = new Map<string, { grpc: number; http: number }>();
  const prefix = kafkaTestPrefix('coflow');
  let app: PromiseClient<typeof PaymentServiceService>;
  let pointsAdmin: PromiseClient<typeof PointsServiceService>;
  let marketingAdmin: PromiseClient<typeof MarketingServiceService>;
  let pointsDb: Pool;

  /** Starts `name` on its database and its fixed ports (a restart keeps the address). */
  const start = async (name: string, env: Record<string, string> = {}): Promise<Proc> => {
    const p = ports.get(name) ?? { grpc: await freePort(), http: await freePort() };
    ports.set(name, p);
    const proc = await spawnService(name, {
      DATABASE_URL: dbs.get(name)!.url,
      KAFKA_TOPIC_PREFIX: prefix,
      AUTH_JWKS_URL: issuer.jwksUrl,
      LOG_LEVEL: 'warn',
      GRPC_PORT: String(p.grpc),
      HTTP_PORT: String(p.http),
      PAYMENT_PUBLIC_URL: `http://127.0.0.1:${p.http}`,
      ...env,
    });
    const started = { proc, grpcAddress: `127.0.0.1:${p.grpc}`, httpUrl: `http://127.0.0.1:${p.http}` };
    await waitFor(
      `${name} ready`,
      async () => {
        if (proc.proc.exitCode !== null) throw new Error(`${name} exited:\n${proc.output().slice(-3000)}`);
        const res = await fetch(`${started.httpUrl}/readyz`).catch(() => undefined);
        return res?.status === 200 || undefined;
      },
      90_000,
      200,
    );
    procs.set(name, started);
    return started;
  };

  const paymentEnv = (crashAt = ''): Record<string, string> => ({
    IDENTITY_GRPC_URL: identity.address,
    POINTS_GRPC_URL: procs.get('points')!.grpcAddress,
    MARKETING_GRPC_URL: procs.get('marketing')!.grpcAddress,
    PAYMENT_CLIENT_ID: 'svc-payment',
    PAYMENT_CLIENT_SECRET: SECRET,
    PAYMENT_CHECKOUT_INTERVAL_MS: '300',
    PAYMENT_RECONCILE_INTERVAL_MS: '500',
    CITYBASE_CRASH_AT: crashAt,
  });

  beforeAll(async () => {
    issuer = await TestIssuer.start();
    sandbox = await spawnSandboxChannel({ autoPay: 'off' });
    for (const name of ['points', 'marketing', 'payment', 'settlement'])
      dbs.set(name, await createTestDatabase(`coflow_${name}`));
    await start('settlement');
    await start('points', { POINTS_HOLD_EXPIRY_INTERVAL_MS: '1000' });
    await start('marketing', {
      MARKETING_HOLD_EXPIRY_INTERVAL_MS: '1000',
      MARKETING_GATE_KEY_PREFIX: uniqueName('coflow'),
    });
    identity = await startTokenServiceFake(issuer, {
      'svc-payment': {
        secret: SECRET,
        scopes: ['points:write', 'points:read', 'marketing:redeem', 'marketing:claim', 'city:admin'],
      },
    });
    await start('payment', paymentEnv());
    await routeProjectToSandbox({
      paymentAddress: procs.get('payment')!.grpcAddress,
      issuer,
      sandbox,
      operatorId: OP,
      projectId: PROJECT,
    });
    const appSub = uniqueName('app');
    const paymentAddress = () => procs.get('payment')!.grpcAddress;
    app = grpcClient(PaymentServiceService, paymentAddress(), () =>
      issuer.metadata({
        sub: appSub,
        scopes: ['payment:write', 'payment:read', 'payment:refund'],
        operators: [OP],
      }),
    );
    const city = () =>
      issuer.metadata({
        sub: 'city',
        scopes: [
          'city:admin',
          'points:read',
          'points:configure',
          'points:budget',
          'points:issue',
          'marketing:configure',
          'marketing:read',
        ],
      });
    pointsAdmin = grpcClient(PointsServiceService, procs.get('points')!.grpcAddress, city);
    marketingAdmin = grpcClient(MarketingServiceService, procs.get('marketing')!.grpcAddress, city);
    pointsDb = new Pool({ connectionString: dbs.get('points')!.url, max: 2 });
    await pointsAdmin.setProgramme({
      requestId: uniqueName('prog'),
      programme: {
        tenancy: { operatorId: OP, projectId: '', merchantId: '' },
        pointValue: { currency: 'CNY', amountMinor: 1n },
        lotLifetimeDays: 365,
        refundWindowHours: 0,
        shortfallPolicy: ShortfallPolicy.SHORTFALL_POLICY_DEBT,
        expiryNoticeDays: 0,
        tiers: [],
        tierWindowDays: 365,
        updatedAt: undefined,
      },
    });
    const period = cityPeriod(new Date());
    const none = { operatorId: '', projectId: '', merchantId: '' };
    await pointsAdmin.setBudget({
      requestId: uniqueName('b'),
      tenancy: none,
      period,
      allotted: 100_000_000n,
    });
    await pointsAdmin.setBudget({
      requestId: uniqueName('b'),
      tenancy: { operatorId: OP, projectId: '', merchantId: '' },
      period,
      allotted: 10_000_000n,
    });
  }, 300_000);

  afterAll(async () => {
    app?.close();
    pointsAdmin?.close();
    marketingAdmin?.close();
    await pointsDb?.end();
    for (const p of procs.values()) await p.proc.stop('SIGKILL').catch(() => undefined);
    for (const d of dbs.values()) await d.drop().catch(() => undefined);
    await identity?.stop();
    await sandbox?.stop();
    await issuer?.stop();
  });

  /** A resident with 5,000 points and a coupon code of 10 CNY off; a checkout of 100 CNY using both. */
  const scenario = async () => {
    const userId = uniqueName('u');
    await pointsAdmin.issuePoints({
      requestId: uniqueName('i'),
      tenancy: { operatorId: OP, projectId: '', merchantId: '' },
      holderId: userId,
      points: 5_000n,
      reason: 'GOODWILL',
      expiresAt: undefined,
    });
    const code = uniqueName('C')
      .replace(/[^A-Za-z0-9]/g, '')
      .slice(-16)
      .toUpperCase();
    const now = Date.now();
    const campaign = (
      await marketingAdmin.createCampaign({
        requestId: uniqueName('c'),
        campaign: {
          campaignId: '',
          tenancy: { operatorId: OP, projectId: '', merchantId: '' },
          name: 'chaos',
          status: CampaignStatus.CAMPAIGN_STATUS_UNSPECIFIED,
          discount: { kind: { $case: 'amountOff', value: { currency: 'CNY', amountMinor: 1_000n } } },
          funding: FundingSource.FUNDING_SOURCE_OPERATOR,
          targeting: { projectIds: [], merchantIds: [], scenarios: [], tiers: [] },
          stacking: { exclusive: false, group: '', priority: 0 },
          claimFrom: toTimestamp(new Date(now - 3_600_000)),
          claimUntil: toTimestamp(new Date(now + 86_400_000)),
          couponValidDays: 30,
          useUntil: undefined,
          maxCoupons: 10n,
          maxSpend: undefined,
          perUserLimit: 0,
          perHouseholdLimit: 0,
          perUserDailyLimit: 0,
          flashSale: false,
          genericCode: code,
          claimed: 0n,
          redeemed: 0n,
          claimedValue: undefined,
          redeemedDiscount: undefined,
          createdAt: undefined,
          updatedAt: undefined,
        },
      })
    ).campaign!;
    await marketingAdmin.updateCampaign({
      requestId: uniqueName('u'),
      tenancy: campaign.tenancy,
      campaignId: campaign.campaignId,
      status: CampaignStatus.CAMPAIGN_STATUS_ACTIVE,
      maxCoupons: 0n,
      maxSpend: undefined,
      claimUntil: undefined,
    });
    const request: CreateCheckoutRequest = {
      requestId: randomUUID(),
      tenancy: { operatorId: OP, projectId: PROJECT, merchantId: '' },
      merchantId: 'm-chaos',
      scenario: PaymentScenario.PAYMENT_SCENARIO_GOODS,
      total: { currency: 'CNY', amountMinor: 10_000n },
      itemCodes: [],
      userId,
      pointsHolderId: '',
      couponId: '',
      couponCode: code,
      points: 3_000n,
      payerRef: userId,
      description: 'chaos basket',
      expiresInSeconds: 0,
      profitSharing: false,
    };
    return { userId, request };
  };

  const final = (checkoutId: string) =>
    waitFor(
      `checkout ${checkoutId} final`,
      async () => {
        const c = (await app.getCheckout({ checkoutId }).catch(() => undefined))?.checkout;
        return c &&
          (c.status === CheckoutStatus.CHECKOUT_STATUS_COMPLETED ||
            c.status === CheckoutStatus.CHECKOUT_STATUS_RELEASED)
          ? c
          : undefined;
      },
      120_000,
      300,
    );

  const tenancy = { operatorId: OP, projectId: '', merchantId: '' };
  const reservationStatus = async (id: string) =>
    (await pointsAdmin.getReservation({ tenancy, reservationId: id })).reservation!.status;
  const couponStatus = async (id: string) =>
    (await marketingAdmin.getCoupon({ tenancy, couponId: id })).coupon!.status;
  const available = async (userId: string) =>
    (await pointsAdmin.getBalance({ tenancy, holderId: userId })).available;

  /** Settlement's ledger check over its database: no violation. */
  const ledgerCheckPasses = async () => {
    // settlement has consumed what payment published so far
    await new Promise((r) => setTimeout(r, 1_500));
    const run = spawnSync(
      process.execPath,
      [
        join(REPO_ROOT, 'services', 'settlement', 'dist', 'admin.js'),
        'check-ledger',
        '--database',
        dbs.get('settlement')!.url,
      ],
      { encoding: 'utf8' },
    );
    const report = JSON.parse(run.stdout) as { ok: boolean; violations: unknown[] };
    expect(report.violations).toEqual([]);
    expect(run.status).toBe(0);
  };

  const create = async (over: Partial<CreateCheckoutRequest>) => {
    const { userId, request } = await scenario();
    const co = (await app.createCheckout({ ...request, ...over })).checkout!;
    return { userId, co };
  };

  it('full money', async () => {
    const { co } = await create({ couponCode: '', points: 0n });
    expect(co.parts!.money!.amountMinor).toBe(10_000n);
    await sandbox.pay(co.paymentId, 'success');
    expect((await final(co.checkoutId)).status).toBe(CheckoutStatus.CHECKOUT_STATUS_COMPLETED);
    await ledgerCheckPasses();
  });

  it('money + points', async () => {
    const { userId, co } = await create({ couponCode: '' });
    expect(co.parts!.money!.amountMinor).toBe(7_000n);
    await sandbox.pay(co.paymentId, 'success');
    expect((await final(co.checkoutId)).status).toBe(CheckoutStatus.CHECKOUT_STATUS_COMPLETED);
    expect(await reservationStatus(co.pointsReservationId)).toBe(
      ReservationStatus.RESERVATION_STATUS_CONFIRMED,
    );
    expect(await available(userId)).toBe(2_000n);
    await ledgerCheckPasses();
  });

  it('money + coupon', async () => {
    const { co } = await create({ points: 0n });
    expect(co.parts!.money!.amountMinor).toBe(9_000n);
    await sandbox.pay(co.paymentId, 'success');
    expect((await final(co.checkoutId)).status).toBe(CheckoutStatus.CHECKOUT_STATUS_COMPLETED);
    expect(await couponStatus(co.couponId)).toBe(CouponStatus.COUPON_STATUS_REDEEMED);
    await ledgerCheckPasses();
  });

  it('points + coupon covering everything (zero money)', async () => {
    const { userId, co } = await create({ total: { currency: 'CNY', amountMinor: 4_000n } });
    expect(co.status).toBe(CheckoutStatus.CHECKOUT_STATUS_COMPLETED);
    expect(co.paymentId).toBe('');
    expect(await reservationStatus(co.pointsReservationId)).toBe(
      ReservationStatus.RESERVATION_STATUS_CONFIRMED,
    );
    expect(await couponStatus(co.couponId)).toBe(CouponStatus.COUPON_STATUS_REDEEMED);
    expect(await available(userId)).toBe(2_000n);
    await ledgerCheckPasses();
  });

  it('payment failure releases both', async () => {
    const { userId, co } = await create({});
    await sandbox.pay(co.paymentId, 'fail');
    const done = await final(co.checkoutId);
    expect([done.status, done.releaseReason]).toEqual([
      CheckoutStatus.CHECKOUT_STATUS_RELEASED,
      'PAYMENT_FAILED',
    ]);
    expect(await reservationStatus(co.pointsReservationId)).toBe(
      ReservationStatus.RESERVATION_STATUS_CANCELLED,
    );
    expect(await couponStatus(co.couponId)).toBe(CouponStatus.COUPON_STATUS_AVAILABLE);
    expect(await available(userId)).toBe(5_000n);
    await ledgerCheckPasses();
  });

  it('expiry releases both', async () => {
    const { userId, co } = await create({ expiresInSeconds: 60 });
    // nobody pays: the channel-poll job closes the order at its expiry, the saga releases both
    const done = await final(co.checkoutId);
    expect([done.status, done.releaseReason]).toEqual([CheckoutStatus.CHECKOUT_STATUS_RELEASED, 'EXPIRED']);
    expect(await reservationStatus(co.pointsReservationId)).toBe(
      ReservationStatus.RESERVATION_STATUS_CANCELLED,
    );
    expect(await couponStatus(co.couponId)).toBe(CouponStatus.COUPON_STATUS_AVAILABLE);
    expect(await available(userId)).toBe(5_000n);
    await ledgerCheckPasses();
  }, 180_000);

  it('partial refund, then full refund', async () => {
    const { co } = await create({});
    await sandbox.pay(co.paymentId, 'success');
    await final(co.checkoutId);
    const partial = await app.refundCheckout({
      requestId: randomUUID(),
      checkoutId: co.checkoutId,
      amount: { currency: 'CNY', amountMinor: 4_000n },
      reason: 'part returned',
    });
    // share 4000 x 9000 / 10000 = 3600; points floor(3600 x 3000 / 9000) = 1200; money 2400; discount 400
    expect(partial.refund!.parts).toMatchObject({
      points: 1_200n,
      money: { amountMinor: 2_400n },
      discount: { amountMinor: 400n },
    });
    await ledgerCheckPasses();
    const rest = await app.refundCheckout({
      requestId: randomUUID(),
      checkoutId: co.checkoutId,
      amount: { currency: 'CNY', amountMinor: 6_000n },
      reason: 'the rest',
    });
    expect(rest.refund!.couponRestored).toBe(true);
    expect(rest.refund!.parts).toMatchObject({
      points: 1_800n,
      money: { amountMinor: 3_600n },
      discount: { amountMinor: 600n },
    });
    const refunded = await waitFor(
      'money refunded',
      async () => {
        const c = (await app.getCheckout({ checkoutId: co.checkoutId })).checkout!;
        return c.refunded!.total!.amountMinor === 10_000n ? c : undefined;
      },
      60_000,
      300,
    );
    expect(refunded.refunded!.money!.amountMinor).toBe(6_000n);
    await ledgerCheckPasses();
  });
});
