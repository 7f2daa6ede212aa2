// Set-up of the checkout suites: payment in-process (startHarness) with real points and marketing
// processes (their built dist, each on its own database) and a real sandbox channel, all trusting
// one TestIssuer; payment calls points and marketing as its own API client through a token service
// standing in for identity (libs/platform outbound), exactly as against identity.
import { Pool } from 'pg';
import { cityPeriod } from '@citybase/platform';
import {
  amountOffCampaign,
  createActiveCampaign,
  createTestDatabase,
  grpcClient,
  kafkaTestPrefix,
  PromiseClient,
  routeProjectToSandbox,
  ServiceProcess,
  spawnService,
  startTokenServiceFake,
  TestDatabase,
  TestIssuer,
  TokenServiceFake,
  uniqueCampaignCode,
  uniqueName,
  waitFor,
} from '@citybase/platform/testing';
import { MarketingServiceService } from '@citybase/contracts/citybase/marketing/v1/marketing';
import {
  CheckoutStatus,
  CreateCheckoutRequest,
  PaymentScenario,
  PaymentServiceService,
} from '@citybase/contracts/citybase/payment/v1/payment';
import { PaymentEvents } from '@citybase/contracts/events';
import { PointsServiceService, ShortfallPolicy } from '@citybase/contracts/citybase/points/v1/points';
import { APP_SCOPES, Harness, startHarness } from './intents-harness';

export const PAYMENT_CLIENT = 'svc-payment';
const SECRET = 'payment-service-secret';
/** What payment's own client may do at points and marketing (deploy/local/start.sh gives the same). */
export const PAYMENT_SERVICE_SCOPES = [
  'points:write',
  'points:read',
  'marketing:redeem',
  'marketing:claim',
  'city:admin',
];

export interface CheckoutHarness {
  h: Harness;
  issuer: TestIssuer;
  identity: TokenServiceFake;
  points: ServiceProcess;
  marketing: ServiceProcess;
  pointsDb: Pool;
  marketingDb: Pool;
  /** The scenario app of the operator (payment:write, read, refund). */
  app: PromiseClient<typeof PaymentServiceService>;
  /** Points and marketing as the city (set-up and checks). */
  pointsAdmin: PromiseClient<typeof PointsServiceService>;
  marketingAdmin: PromiseClient<typeof MarketingServiceService>;
  stop(): Promise<void>;
}

export async function startCheckoutHarness(
  op: string,
  project: string,
  env: Record<string, string> = {},
): Promise<CheckoutHarness> {
  const issuer = await TestIssuer.start();
  const dbs: TestDatabase[] = [];
  const procs: ServiceProcess[] = [];
  const prefix = kafkaTestPrefix('checkouts');
  for (const name of ['points', 'marketing']) {
    const db = await createTestDatabase(`co_${name}`);
    dbs.push(db);
    procs.push(
      await spawnService(name, {
        DATABASE_URL: db.url,
        KAFKA_TOPIC_PREFIX: prefix,
        AUTH_JWKS_URL: issuer.jwksUrl,
        LOG_LEVEL: 'warn',
        POINTS_HOLD_EXPIRY_INTERVAL_MS: '1000',
        MARKETING_HOLD_EXPIRY_INTERVAL_MS: '1000',
        MARKETING_GATE_KEY_PREFIX: uniqueName('co-gate'),
      }),
    );
  }
  const [points, marketing] = procs as [ServiceProcess, ServiceProcess];
  await Promise.all(procs.map((p) => p.ready()));
  const identity = await startTokenServiceFake(issuer, {
    [PAYMENT_CLIENT]: { secret: SECRET, scopes: PAYMENT_SERVICE_SCOPES },
  });
  const h = await startHarness({
    env: {
      AUTH_JWKS_URL: issuer.jwksUrl,
      IDENTITY_GRPC_URL: identity.address,
      POINTS_GRPC_URL: points.grpcAddress,
      MARKETING_GRPC_URL: marketing.grpcAddress,
      PAYMENT_CLIENT_ID: PAYMENT_CLIENT,
      PAYMENT_CLIENT_SECRET: SECRET,
      PAYMENT_CHECKOUT_INTERVAL_MS: '200',
      PAYMENT_RECONCILE_INTERVAL_MS: '300',
      // payment's events reach points' and marketing's consumers (e.g. CheckoutReleased, CheckoutRefunded)
      KAFKA_TOPIC_PREFIX: prefix,
      ...env,
    },
  });
  await h.sandboxes[0]!.configure({ autoPay: 'off' });
  await routeProjectToSandbox({
    paymentAddress: h.svc.grpcAddress,
    issuer,
    sandbox: h.sandboxes[0]!,
    operatorId: op,
    projectId: project,
  });
  const appSub = uniqueName('app');
  const app = h.client(PaymentServiceService, () =>
    issuer.metadata({ sub: appSub, scopes: APP_SCOPES, operators: [op] }),
  );
  const cityMeta = () =>
    issuer.metadata({
      sub: 'city-office',
      scopes: [
        'city:admin',
        'points:read',
        'points:configure',
        'points:budget',
        'points:issue',
        'points:write',
        'marketing:configure',
        'marketing:read',
        'marketing:claim',
        'marketing:redeem',
      ],
    });
  const pointsAdmin = grpcClient(PointsServiceService, points.grpcAddress, cityMeta);
  const marketingAdmin = grpcClient(MarketingServiceService, marketing.grpcAddress, cityMeta);
  const pointsDb = new Pool({ connectionString: dbs[0]!.url, max: 2 });
  const marketingDb = new Pool({ connectionString: dbs[1]!.url, max: 2 });
  return {
    h,
    issuer,
    identity,
    points,
    marketing,
    pointsDb,
    marketingDb,
    app,
    pointsAdmin,
    marketingAdmin,
    async stop() {
      await h.stop();
      pointsAdmin.close();
      marketingAdmin.close();
      await pointsDb.end();
      await marketingDb.end();
      for (const p of procs) await p.stop();
      for (const d of dbs) await d.drop();
      await identity.stop();
      await issuer.stop();
    },
  };
}

/** The operator's points programme (1 fen per point) and budgets of this period. */
export async function seedPoints(c: CheckoutHarness, operatorId: string): Promise<void> {
  await c.pointsAdmin.setProgramme({
    requestId: uniqueName('programme'),
    programme: {
      tenancy: { operatorId, projectId: '', merchantId: '' },
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
  const city = await c.pointsAdmin.getBudget({ tenancy: none, period }).catch(() => undefined);
  await c.pointsAdmin.setBudget({
    requestId: uniqueName('budget'),
    tenancy: none,
    period,
    allotted: (city?.budget?.allotted ?? 0n) + 10_000_000n,
  });
  await c.pointsAdmin.setBudget({
    requestId: uniqueName('budget'),
    tenancy: { operatorId, projectId: '', merchantId: '' },
    period,
    allotted: 10_000_000n,
  });
}

export async function issuePoints(c: CheckoutHarness, operatorId: string, holderId: string, points: bigint) {
  await c.pointsAdmin.issuePoints({
    requestId: uniqueName('issue'),
    tenancy: { operatorId, projectId: '', merchantId: '' },
    holderId,
    points,
    reason: 'GOODWILL',
    expiresAt: undefined,
  });
}

/** An active campaign of the operator: `offMinor` off, with a generic code; answers the code. */
export async function activeCampaign(
  c: CheckoutHarness,
  operatorId: string,
  offMinor: bigint,
): Promise<string> {
  const code = uniqueCampaignCode('CODE');
  await createActiveCampaign(
    c.marketingAdmin,
    amountOffCampaign(operatorId, offMinor, { name: 'Checkout test', genericCode: code }),
  );
  return code;
}

/** Where the suite's checkouts happen: the operator's project and merchant. */
export interface CheckoutPlace {
  operatorId: string;
  projectId: string;
  merchantId: string;
}

/**
 * The requests and reads the checkout suites share, at one place; `harness` is read at each call
 * (the suite starts it in beforeAll).
 */
export function checkoutKit(harness: () => CheckoutHarness, at: CheckoutPlace) {
  const tenancy = { operatorId: at.operatorId, projectId: '', merchantId: '' };
  const request = (over: Partial<CreateCheckoutRequest> = {}): CreateCheckoutRequest => ({
    requestId: uniqueName('co'),
    tenancy: { operatorId: at.operatorId, projectId: at.projectId, merchantId: '' },
    merchantId: at.merchantId,
    scenario: PaymentScenario.PAYMENT_SCENARIO_GOODS,
    total: { currency: 'CNY', amountMinor: 10_000n },
    itemCodes: [],
    userId: uniqueName('u'),
    pointsHolderId: '',
    couponId: '',
    couponCode: '',
    points: 0n,
    payerRef: 'payer-1',
    description: 'basket',
    expiresInSeconds: 0,
    profitSharing: false,
    ...over,
  });
  const create = async (req: CreateCheckoutRequest) => (await harness().app.createCheckout(req)).checkout!;
  const get = async (checkoutId: string) => (await harness().app.getCheckout({ checkoutId })).checkout!;
  const until = (checkoutId: string, want: CheckoutStatus) =>
    waitFor(
      `checkout ${checkoutId} ${CheckoutStatus[want]}`,
      async () => {
        const got = await get(checkoutId);
        return got.status === want ? got : undefined;
      },
      60_000,
      100,
    );
  const reservation = async (reservationId: string) =>
    (await harness().pointsAdmin.getReservation({ tenancy, reservationId })).reservation!;
  const coupon = async (couponId: string) =>
    (await harness().marketingAdmin.getCoupon({ tenancy, couponId })).coupon!;
  const balance = (holderId: string) => harness().pointsAdmin.getBalance({ tenancy, holderId });
  /** Payment's events of one key (checkout or payment id) and kind, as its outbox holds them. */
  const events = async <
    K extends 'PaymentSucceeded' | 'CheckoutCompleted' | 'CheckoutReleased' | 'CheckoutRefunded',
  >(
    key: string,
    kind: K,
  ) => {
    const def = PaymentEvents[kind];
    const { rows } = await harness().h.pg.query<{ payload: Buffer }>(
      'SELECT payload FROM outbox WHERE partition_key = $1 AND event_type = $2 ORDER BY id',
      [key, def.type],
    );
    return rows.map(
      (r) => def.codec.decode(r.payload) as ReturnType<(typeof PaymentEvents)[K]['codec']['decode']>,
    );
  };
  const pay = (paymentId: string, outcome: 'success' | 'fail') =>
    harness().h.sandboxes[0]!.pay(paymentId, outcome);
  return { tenancy, request, create, get, until, reservation, coupon, balance, events, pay };
}
