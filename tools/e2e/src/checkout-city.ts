import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { Pool } from 'pg';
import { cityPeriod } from '@citybase/platform';
import {
  amountOffCampaign,
  createActiveCampaign,
  createTestDatabase,
  freePort,
  grpcClient,
  iotMqttEnv,
  kafkaTestPrefix,
  PromiseClient,
  REPO_ROOT,
  routeProjectToSandbox,
  SandboxChannelProcess,
  ServiceProcess,
  spawnSandboxChannel,
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
  Checkout,
  CheckoutStatus,
  CreateCheckoutRequest,
  PaymentScenario,
  PaymentServiceService,
} from '@citybase/contracts/citybase/payment/v1/payment';
import { PointsServiceService, ShortfallPolicy } from '@citybase/contracts/citybase/points/v1/points';

export interface CityProcess {
  proc: ServiceProcess;
  grpcAddress: string;
  httpUrl: string;
}

const SECRET = 'payment-checkout-secret';
const IOT_SECRET = 'iot-service-secret';
/** iot's own API client's scopes: deploy/local/start.sh's (CALLING_SERVICES, iot). */
const IOT_CLIENT_SCOPES = ['payment:write', 'payment:read', 'city:admin'];

/**
 * The city of the checkout suites (checkout-flow, checkout-chaos): points, marketing and payment
 * (the saga), and settlement when asked, as processes on their own databases and Kafka namespace;
 * the sandbox channel, where the test pays by hand; a test token issuer, and a token service in
 * identity's place for payment's own client. One operator with a points programme (1 fen a point)
 * and budgets. A restarted process keeps its ports, so clients keep their address. With `iot`, iot
 * runs too (its own API client `svc-iot` calls payment; devices on the project Mosquitto under a
 * topic root of its own), for EV charging paid through the checkout.
 */
export class CheckoutCity {
  readonly operatorId: string;
  readonly projectId: string;
  readonly dbs = new Map<string, TestDatabase>();
  readonly procs = new Map<string, CityProcess>();
  issuer!: TestIssuer;
  sandbox!: SandboxChannelProcess;
  /** The scenario app's client of payment. */
  app!: PromiseClient<typeof PaymentServiceService>;
  /** The city admin's clients of points and marketing, and points' database. */
  pointsAdmin!: PromiseClient<typeof PointsServiceService>;
  marketingAdmin!: PromiseClient<typeof MarketingServiceService>;
  pointsDb!: Pool;
  readonly tenancy: { operatorId: string; projectId: string; merchantId: string };
  private identity?: TokenServiceFake;
  private readonly ports = new Map<string, { grpc: number; http: number }>();
  private readonly prefix: string;

  /** `label` names the databases, topics and Redis keys; with `settlement`, settlement runs too. */
  constructor(
    private readonly label: string,
    private readonly options: { settlement: boolean; iot?: boolean },
  ) {
    this.operatorId = `op-${label}-${randomUUID().slice(0, 6)}`;
    this.projectId = `p-${label}`;
    this.tenancy = { operatorId: this.operatorId, projectId: '', merchantId: '' };
    this.prefix = kafkaTestPrefix(label);
  }

  /** Starts `name` on its database and its ports (a restart keeps the address); waits until ready. */
  async start(name: string, env: Record<string, string> = this.defaultEnv(name)): Promise<CityProcess> {
    const p = this.ports.get(name) ?? { grpc: await freePort(), http: await freePort() };
    this.ports.set(name, p);
    const proc = await spawnService(name, {
      DATABASE_URL: this.dbs.get(name)!.url,
      KAFKA_TOPIC_PREFIX: this.prefix,
      AUTH_JWKS_URL: this.issuer.jwksUrl,
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
    this.procs.set(name, started);
    return started;
  }

  /** Each service's environment in this city; payment's with the test-only crash point, if any. */
  defaultEnv(name: string, crashAt = ''): Record<string, string> {
    switch (name) {
      case 'points':
        return { POINTS_HOLD_EXPIRY_INTERVAL_MS: '1000' };
      case 'marketing':
        return {
          MARKETING_HOLD_EXPIRY_INTERVAL_MS: '1000',
          MARKETING_GATE_KEY_PREFIX: uniqueName(this.label),
        };
      case 'payment':
        return {
          IDENTITY_GRPC_URL: this.identity!.address,
          POINTS_GRPC_URL: this.procs.get('points')!.grpcAddress,
          MARKETING_GRPC_URL: this.procs.get('marketing')!.grpcAddress,
          PAYMENT_CLIENT_ID: 'svc-payment',
          PAYMENT_CLIENT_SECRET: SECRET,
          PAYMENT_CHECKOUT_INTERVAL_MS: '300',
          PAYMENT_RECONCILE_INTERVAL_MS: '500',
          // a killed driver's sagas are taken over once its lease ran out (default 30 s)
          PAYMENT_CHECKOUT_LEASE_MS: '5000',
          CITYBASE_CRASH_AT: crashAt,
        };
      case 'iot':
        return {
          IDENTITY_GRPC_URL: this.identity!.address,
          PAYMENT_GRPC_URL: this.procs.get('payment')!.grpcAddress,
          IOT_CLIENT_ID: 'svc-iot',
          IOT_CLIENT_SECRET: IOT_SECRET,
          IOT_PAYMENT_JOB_INTERVAL_MS: '300',
          ...iotMqttEnv(this.label),
        };
      default:
        return {};
    }
  }

  async setUp(): Promise<void> {
    this.issuer = await TestIssuer.start();
    this.sandbox = await spawnSandboxChannel({ autoPay: 'off' });
    const names = [
      'points',
      'marketing',
      'payment',
      ...(this.options.settlement ? ['settlement'] : []),
      ...(this.options.iot ? ['iot'] : []),
    ];
    for (const name of names) this.dbs.set(name, await createTestDatabase(`${this.label}_${name}`));
    if (this.options.settlement) await this.start('settlement');
    await this.start('points');
    await this.start('marketing');
    this.identity = await startTokenServiceFake(this.issuer, {
      'svc-payment': {
        secret: SECRET,
        scopes: ['points:write', 'points:read', 'marketing:redeem', 'marketing:claim', 'city:admin'],
      },
      'svc-iot': { secret: IOT_SECRET, scopes: IOT_CLIENT_SCOPES },
    });
    await this.start('payment');
    if (this.options.iot) await this.start('iot');
    await routeProjectToSandbox({
      paymentAddress: this.procs.get('payment')!.grpcAddress,
      issuer: this.issuer,
      sandbox: this.sandbox,
      operatorId: this.operatorId,
      projectId: this.projectId,
    });
    const appSub = uniqueName('app');
    this.app = grpcClient(PaymentServiceService, this.procs.get('payment')!.grpcAddress, () =>
      this.issuer.metadata({
        sub: appSub,
        scopes: ['payment:write', 'payment:read', 'payment:refund'],
        operators: [this.operatorId],
      }),
    );
    const city = () =>
      this.issuer.metadata({
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
    this.pointsAdmin = grpcClient(PointsServiceService, this.procs.get('points')!.grpcAddress, city);
    this.marketingAdmin = grpcClient(MarketingServiceService, this.procs.get('marketing')!.grpcAddress, city);
    this.pointsDb = new Pool({ connectionString: this.dbs.get('points')!.url, max: 2 });
    await this.pointsAdmin.setProgramme({
      requestId: uniqueName('prog'),
      programme: {
        tenancy: this.tenancy,
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
    await this.pointsAdmin.setBudget({
      requestId: uniqueName('b'),
      tenancy: { operatorId: '', projectId: '', merchantId: '' },
      period,
      allotted: 100_000_000n,
    });
    await this.pointsAdmin.setBudget({
      requestId: uniqueName('b'),
      tenancy: this.tenancy,
      period,
      allotted: 10_000_000n,
    });
  }

  async tearDown(): Promise<void> {
    this.app?.close();
    this.pointsAdmin?.close();
    this.marketingAdmin?.close();
    await this.pointsDb?.end();
    for (const p of this.procs.values()) await p.proc.stop('SIGKILL').catch(() => undefined);
    for (const d of this.dbs.values()) await d.drop().catch(() => undefined);
    await this.identity?.stop();
    await this.sandbox?.stop();
    await this.issuer?.stop();
  }

  /** A resident with 5,000 points and a coupon code of 10 CNY off; a checkout of 100 CNY using both. */
  async scenario(): Promise<{ userId: string; request: CreateCheckoutRequest }> {
    const userId = uniqueName('u');
    await this.pointsAdmin.issuePoints({
      requestId: uniqueName('i'),
      tenancy: this.tenancy,
      holderId: userId,
      points: 5_000n,
      reason: 'GOODWILL',
      expiresAt: undefined,
    });
    const code = uniqueCampaignCode('C', 16);
    await createActiveCampaign(
      this.marketingAdmin,
      amountOffCampaign(this.operatorId, 1_000n, {
        tenancy: this.tenancy,
        name: this.label,
        maxCoupons: 10n,
        genericCode: code,
      }),
    );
    const request: CreateCheckoutRequest = {
      requestId: randomUUID(),
      tenancy: { operatorId: this.operatorId, projectId: this.projectId, merchantId: '' },
      merchantId: `m-${this.label}`,
      scenario: PaymentScenario.PAYMENT_SCENARIO_GOODS,
      total: { currency: 'CNY', amountMinor: 10_000n },
      itemCodes: [],
      userId,
      pointsHolderId: '',
      couponId: '',
      couponCode: code,
      points: 3_000n,
      payerRef: userId,
      description: `${this.label} basket`,
      expiresInSeconds: 0,
      profitSharing: false,
    };
    return { userId, request };
  }

  /** The checkout once it is COMPLETED or RELEASED. */
  final(checkoutId: string): Promise<Checkout> {
    return waitFor(
      `checkout ${checkoutId} final`,
      async () => {
        const c = (await this.app.getCheckout({ checkoutId }).catch(() => undefined))?.checkout;
        return c &&
          (c.status === CheckoutStatus.CHECKOUT_STATUS_COMPLETED ||
            c.status === CheckoutStatus.CHECKOUT_STATUS_RELEASED)
          ? c
          : undefined;
      },
      180_000,
      300,
    );
  }

  /** Settlement's ledger check over its database (services/settlement/dist/admin.js check-ledger). */
  ledgerViolations(): { status: number | null; violations: unknown[] } {
    return settlementLedgerCheck(this.dbs.get('settlement')!.url);
  }
}

/** Runs settlement's ledger check over a settlement database: its exit status and violations. */
export function settlementLedgerCheck(databaseUrl: string): { status: number | null; violations: unknown[] } {
  const run = spawnSync(
    process.execPath,
    [
      join(REPO_ROOT, 'services', 'settlement', 'dist', 'admin.js'),
      'check-ledger',
      '--database',
      databaseUrl,
    ],
    { encoding: 'utf8' },
  );
  // a check that could not run (e.g. the database refused the connection) says why
  if (!run.stdout.trim())
    throw new Error(`check-ledger printed no report (exit ${run.status}): ${run.stderr.slice(-2000)}`);
  const report = JSON.parse(run.stdout) as { ok: boolean; violations: unknown[] };
  return { status: run.status, violations: report.violations };
}
