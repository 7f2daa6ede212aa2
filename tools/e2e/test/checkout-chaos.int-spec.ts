import { randomUUID } from 'node:crypto';
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
  Checkout,
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
 * Checkouts under crashes, all services as processes (payment, points, marketing, sandbox channel):
 * payment is SIGKILLed (CITYBASE_CRASH_AT, a test-only hook that kills the process at a saga point)
 * after the coupon is reserved, after the points are reserved, after the channel order is opened,
 * and after the payment's success is recorded; points and marketing are SIGKILLed while the saga
 * confirms. After the restart (the client retrying with the same request id, the recovery job
 * picking up what no one drives), every checkout ends COMPLETED with all three parts kept (points
 * reservation confirmed, coupon redeemed, payment paid) or RELEASED with none kept (points
 * reservation cancelled, coupon available, the user's points all there): no double spend.
 */

const OP = `op-chaos-${randomUUID().slice(0, 6)}`;
const PROJECT = 'p-chaos';
const SECRET = 'payment-chaos-secret';

interface Proc {
  proc: ServiceProcess;
  grpcAddress: string;
  httpUrl: string;
}

describe('checkout: SIGKILL at each saga step and of points and marketing during confirm', () => {
  let issuer: TestIssuer;
  let identity: TokenServiceFake;
  let sandbox: SandboxChannelProcess;
  const dbs = new Map<string, TestDatabase>();
  const procs = new Map<string, Proc>();
  const ports = new Map<string, { grpc: number; http: number }>();
  const prefix = kafkaTestPrefix('cochaos');
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
      // a killed process's consumer group membership ends after this (default 30 s), which its
      // restart waits for before it is ready
      KAFKA_SESSION_TIMEOUT_MS: '6000',
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
    // a killed driver's sagas are taken over once its lease ran out (default 30 s)
    PAYMENT_CHECKOUT_LEASE_MS: '5000',
    CITYBASE_CRASH_AT: crashAt,
  });

  /** Waits until the process is gone (it killed itself at the crash point). */
  const died = (name: string) =>
    waitFor(
      `${name} died`,
      async () =>
        procs.get(name)!.proc.proc.exitCode !== null ||
        procs.get(name)!.proc.proc.signalCode !== null ||
        undefined,
      60_000,
      100,
    );

  beforeAll(async () => {
    issuer = await TestIssuer.start();
    sandbox = await spawnSandboxChannel({ autoPay: 'off' });
    for (const name of ['points', 'marketing', 'payment'])
      dbs.set(name, await createTestDatabase(`cochaos_${name}`));
    await start('points', { POINTS_HOLD_EXPIRY_INTERVAL_MS: '1000' });
    await start('marketing', {
      MARKETING_HOLD_EXPIRY_INTERVAL_MS: '1000',
      MARKETING_GATE_KEY_PREFIX: uniqueName('cochaos'),
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

  /** The client retries with the same request id until payment answers. */
  const createUntilAnswered = (req: CreateCheckoutRequest) =>
    waitFor(
      'CreateCheckout answered',
      async () => {
        try {
          return (await app.createCheckout(req)).checkout;
        } catch {
          return undefined;
        }
      },
      120_000,
      500,
    );

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
      180_000,
      300,
    );

  /** All three kept, or none; and nothing of the user's points or coupons spent twice. */
  const allOrNone = async (co: Checkout, userId: string) => {
    const tenancy = { operatorId: OP, projectId: '', merchantId: '' };
    const balance = await pointsAdmin.getBalance({ tenancy, holderId: userId });
    const { rows } = await pointsDb.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM reservations WHERE reference = $1 AND status IN (1, 2)`,
      [co.checkoutId],
    );
    const coupons = await marketingAdmin.listCoupons({ tenancy, userId, includeUsed: true, page: undefined });
    if (co.status === CheckoutStatus.CHECKOUT_STATUS_COMPLETED) {
      const res = await pointsAdmin.getReservation({ tenancy, reservationId: co.pointsReservationId });
      expect(res.reservation!.status).toBe(ReservationStatus.RESERVATION_STATUS_CONFIRMED);
      expect(balance.available).toBe(2_000n);
      expect(balance.reserved).toBe(0n);
      expect(coupons.coupons.map((c) => c.status)).toEqual([CouponStatus.COUPON_STATUS_REDEEMED]);
      expect(rows[0]!.n).toBe(1);
      expect((await app.getPayment({ paymentId: co.paymentId })).payment!.status).toBe(3);
    } else {
      expect(balance.available).toBe(5_000n);
      expect(balance.reserved).toBe(0n);
      expect(coupons.coupons.every((c) => c.status !== CouponStatus.COUPON_STATUS_REDEEMED)).toBe(true);
      expect(rows[0]!.n).toBe(0);
    }
  };

  it.each(['after_coupon_reserved', 'after_points_reserved', 'after_channel_order'])(
    'payment killed %s: after the restart the checkout ends all or nothing',
    async (point) => {
      await procs.get('payment')!.proc.stop('SIGKILL');
      await start('payment', paymentEnv(point));
      const { userId, request } = await scenario();
      await app.createCheckout(request).catch(() => undefined);
      await died('payment');
      await start('payment', paymentEnv());
      const co = await createUntilAnswered(request);
      // the payer pays once the payment is open (the recovery job opens it if the crash came first)
      const open = await waitFor(
        'payment open',
        async () => {
          const c = (await app.getCheckout({ checkoutId: co!.checkoutId })).checkout!;
          return c.status === CheckoutStatus.CHECKOUT_STATUS_AWAITING_PAYMENT && c.paymentId !== ''
            ? c
            : undefined;
        },
        120_000,
        300,
      );
      await sandbox.pay(open.paymentId, 'success');
      const done = await final(co!.checkoutId);
      expect(done.status).toBe(CheckoutStatus.CHECKOUT_STATUS_COMPLETED);
      await allOrNone(done, userId);
    },
    300_000,
  );

  it('payment killed after the success notification: confirmed after the restart', async () => {
    await procs.get('payment')!.proc.stop('SIGKILL');
    await start('payment', paymentEnv('after_payment_succeeded'));
    const { userId, request } = await scenario();
    const co = (await app.createCheckout(request)).checkout!;
    await sandbox.pay(co.paymentId, 'success');
    await died('payment');
    await start('payment', paymentEnv());
    const done = await final(co.checkoutId);
    expect(done.status).toBe(CheckoutStatus.CHECKOUT_STATUS_COMPLETED);
    await allOrNone(done, userId);
  }, 300_000);

  it.each(['points', 'marketing'])(
    '%s killed while the saga confirms: confirmed once it is back',
    async (name) => {
      const { userId, request } = await scenario();
      const co = (await app.createCheckout(request)).checkout!;
      await procs.get(name)!.proc.stop('SIGKILL');
      await sandbox.pay(co.paymentId, 'success');
      // the saga retries the confirmation it cannot make while the service is down
      await waitFor(
        'confirm retried',
        async () => {
          const c = (await app.getCheckout({ checkoutId: co.checkoutId })).checkout!;
          return c.status === CheckoutStatus.CHECKOUT_STATUS_AWAITING_PAYMENT || undefined;
        },
        30_000,
        200,
      );
      await new Promise((r) => setTimeout(r, 2_000));
      await start(
        name,
        name === 'points'
          ? { POINTS_HOLD_EXPIRY_INTERVAL_MS: '1000' }
          : { MARKETING_HOLD_EXPIRY_INTERVAL_MS: '1000', MARKETING_GATE_KEY_PREFIX: uniqueName('cochaos') },
      );
      const done = await final(co.checkoutId);
      expect(done.status).toBe(CheckoutStatus.CHECKOUT_STATUS_COMPLETED);
      await allOrNone(done, userId);
    },
    300_000,
  );
});
