// `bench checkout`: end-to-end checkouts per second (money + points + coupon) through the real
// pieces: the built payment, points and marketing processes on their own databases, the sandbox
// channel (its payer pays at once), Kafka. Each checkout claims a coupon code, reserves it and the
// points, opens the payment at the sandbox and, once paid, confirms both. Next to it, in the same
// run and on the same processes, plain payments per second (CreatePayment > paid): the target is
// checkouts_per_s >= 0.5 x payments_per_s (docs/payment-checkout.md).
import { randomUUID } from 'crypto';
import { Client } from 'pg';
import { cityPeriod } from '@citybase/platform';
import { MarketingServiceService } from '@citybase/contracts/citybase/marketing/v1/marketing';
import { PaymentScenario, PaymentServiceService } from '@citybase/contracts/citybase/payment/v1/payment';
import { PointsServiceService, ShortfallPolicy } from '@citybase/contracts/citybase/points/v1/points';
import {
  amountOffCampaign,
  createActiveCampaign,
  grpcClient,
  routeProjectToSandbox,
  spawnSandboxChannel,
  spawnService,
  startTokenServiceFake,
  TestIssuer,
  uniqueCampaignCode,
  uniqueName,
} from '@citybase/platform/testing';
import {
  benchDatabase,
  Cleanup,
  Figure,
  figureValues,
  MachineCpu,
  note,
  now,
  printBenchmarkFigures,
  processUsage,
  profiledSpawn,
  writeBenchReport,
} from './common';
import { intFromEnv, percentiles, perSecond, round } from './stats';

export interface CheckoutBenchParams {
  checkouts: number;
  payments: number;
  concurrency: number;
}

export function checkoutBenchParams(env: NodeJS.ProcessEnv): CheckoutBenchParams {
  return {
    checkouts: intFromEnv(env, 'BENCH_CHECKOUTS', 500),
    payments: intFromEnv(env, 'BENCH_CHECKOUT_PAYMENTS', 500),
    concurrency: intFromEnv(env, 'BENCH_CHECKOUT_CONCURRENCY', 16),
  };
}

/** Polls `sql` (a count) until it reaches `n`; resolves with the time it did. */
async function countReaches(
  url: string,
  sql: string,
  params: unknown[],
  n: number,
  stallMs = 120_000,
): Promise<number> {
  const pg = new Client({ connectionString: url });
  await pg.connect();
  try {
    let last = -1;
    let lastChange = now();
    for (;;) {
      const { rows } = await pg.query<{ n: number }>(sql, params);
      const got = rows[0]?.n ?? 0;
      if (got >= n) return now();
      if (got !== last) {
        last = got;
        lastChange = now();
      } else if (now() - lastChange > stallMs) {
        throw new Error(`stalled at ${got} of ${n}: ${sql}`);
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  } finally {
    await pg.end();
  }
}

async function inParallel(
  count: number,
  concurrency: number,
  fn: (i: number) => Promise<void>,
): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      for (let i = next++; i < count; i = next++) await fn(i);
    }),
  );
}

export async function runCheckout(cleanup: Cleanup): Promise<void> {
  const p = checkoutBenchParams(process.env);
  const started = Date.now();
  const prefix = `${uniqueName('benchco')}.`;
  const logLevel = process.env.BENCH_LOG_LEVEL ?? 'warn';
  const issuer = await TestIssuer.start();
  cleanup.add('token issuer', () => issuer.stop());
  const sandbox = await spawnSandboxChannel({ autoPay: 'success', autoPayDelayMs: 0, notifyDelayMs: 0 });
  cleanup.add('sandbox channel', () => sandbox.stop());
  const dbs = {
    payment: await benchDatabase('bench_co_payment', cleanup),
    points: await benchDatabase('bench_co_points', cleanup),
    marketing: await benchDatabase('bench_co_marketing', cleanup),
  };
  const base = (name: keyof typeof dbs) => ({
    DATABASE_URL: dbs[name].db.url,
    KAFKA_TOPIC_PREFIX: prefix,
    AUTH_JWKS_URL: issuer.jwksUrl,
    LOG_LEVEL: logLevel,
  });
  const points = await spawnService('points', base('points'), profiledSpawn());
  cleanup.add('points process', () => points.stop());
  const marketing = await spawnService(
    'marketing',
    { ...base('marketing'), MARKETING_GATE_KEY_PREFIX: uniqueName('benchco') },
    profiledSpawn(),
  );
  cleanup.add('marketing process', () => marketing.stop());
  await Promise.all([points.ready(), marketing.ready()]);
  const secret = randomUUID();
  const identity = await startTokenServiceFake(issuer, {
    'svc-payment': {
      secret,
      scopes: ['points:write', 'points:read', 'marketing:redeem', 'marketing:claim', 'city:admin'],
    },
  });
  cleanup.add('token service', () => identity.stop());
  const payment = await spawnService(
    'payment',
    {
      ...base('payment'),
      IDENTITY_GRPC_URL: identity.address,
      POINTS_GRPC_URL: points.grpcAddress,
      MARKETING_GRPC_URL: marketing.grpcAddress,
      PAYMENT_CLIENT_ID: 'svc-payment',
      PAYMENT_CLIENT_SECRET: secret,
    },
    profiledSpawn(),
  );
  cleanup.add('payment process', () => payment.stop());
  await payment.ready();
  const operatorId = 'bench-operator';
  const projectId = 'bench-project';
  await routeProjectToSandbox({
    paymentAddress: payment.grpcAddress,
    issuer,
    sandbox,
    operatorId,
    projectId,
  });

  const city = () =>
    issuer.metadata({
      scopes: ['city:admin', 'points:configure', 'points:budget', 'points:issue', 'marketing:configure'],
    });
  const pointsAdmin = grpcClient(PointsServiceService, points.grpcAddress, city);
  const marketingAdmin = grpcClient(MarketingServiceService, marketing.grpcAddress, city);
  const app = grpcClient(PaymentServiceService, payment.grpcAddress, () =>
    issuer.metadata({ sub: 'bench-app', scopes: ['payment:write', 'payment:read'], operators: [operatorId] }),
  );
  cleanup.add('gRPC clients', async () => {
    pointsAdmin.close();
    marketingAdmin.close();
    app.close();
  });
  const tenancy = { operatorId, projectId: '', merchantId: '' };
  await pointsAdmin.setProgramme({
    requestId: randomUUID(),
    programme: {
      tenancy,
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
  const allotted = BigInt(p.checkouts) * 10_000n;
  await pointsAdmin.setBudget({
    requestId: randomUUID(),
    tenancy: { operatorId: '', projectId: '', merchantId: '' },
    period,
    allotted,
  });
  await pointsAdmin.setBudget({ requestId: randomUUID(), tenancy, period, allotted });
  const code = uniqueCampaignCode('BENCH', 15);
  await createActiveCampaign(
    marketingAdmin,
    amountOffCampaign(tenancy.operatorId, 100n, {
      tenancy,
      name: 'bench',
      genericCode: code,
      maxCoupons: BigInt(p.checkouts * 2),
    }),
  );
  note(`issuing points to ${p.checkouts} residents`);
  await inParallel(p.checkouts, p.concurrency, async (i) => {
    await pointsAdmin.issuePoints({
      requestId: randomUUID(),
      tenancy,
      holderId: `bench-user-${i}`,
      points: 500n,
      reason: 'GOODWILL',
      expiresAt: undefined,
    });
  });

  // plain payments first: payments_per_s of the same processes
  note(`${p.payments} payments, ${p.concurrency} in flight`);
  const paymentsCpu = MachineCpu.start();
  const p0 = now();
  await inParallel(p.payments, p.concurrency, async (i) => {
    await app.createPayment({
      requestId: randomUUID(),
      tenancy: { operatorId, projectId, merchantId: '' },
      merchantId: 'bench-merchant',
      scenario: PaymentScenario.PAYMENT_SCENARIO_GOODS,
      amount: { currency: 'CNY', amountMinor: BigInt(1_000 + (i % 500)) },
      payerRef: `payer-${i}`,
      description: 'bench',
      expiresInSeconds: 0,
      profitSharing: false,
    });
  });
  const p1 = await countReaches(
    dbs.payment.db.url,
    'SELECT count(*)::int AS n FROM payments WHERE status = 3',
    [],
    p.payments,
  );
  const paymentsPerS = perSecond(p.payments, p1 - p0);
  const cpuPerPayment = (await paymentsCpu.end()) / p.payments;

  note(`${p.checkouts} checkouts (coupon code + 300 points + money), ${p.concurrency} in flight`);
  const checkoutsCpu = MachineCpu.start();
  const c0 = now();
  await inParallel(p.checkouts, p.concurrency, async (i) => {
    await app.createCheckout({
      requestId: randomUUID(),
      tenancy: { operatorId, projectId, merchantId: '' },
      merchantId: 'bench-merchant',
      scenario: PaymentScenario.PAYMENT_SCENARIO_GOODS,
      total: { currency: 'CNY', amountMinor: 2_000n },
      itemCodes: [],
      userId: `bench-user-${i}`,
      pointsHolderId: '',
      couponId: '',
      couponCode: code,
      points: 300n,
      payerRef: `bench-user-${i}`,
      description: 'bench basket',
      expiresInSeconds: 0,
      profitSharing: false,
    });
  });
  const c1 = await countReaches(
    dbs.payment.db.url,
    `SELECT count(*)::int AS n FROM checkouts WHERE status = 'COMPLETED'`,
    [],
    p.checkouts,
  );
  const checkoutsPerS = perSecond(p.checkouts, c1 - c0);
  const cpuPerCheckout = (await checkoutsCpu.end()) / p.checkouts;
  const pg = new Client({ connectionString: dbs.payment.db.url });
  await pg.connect();
  const { rows } = await pg.query<{ ms: number }>(
    `SELECT extract(epoch FROM completed_at - created_at)::float8 * 1000 AS ms FROM checkouts WHERE status = 'COMPLETED'`,
  );
  const { rows: released } = await pg.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM checkouts WHERE status = 'RELEASED'`,
  );
  await pg.end();
  const [p50, p99] = percentiles(
    rows.map((r) => r.ms),
    [50, 99],
  );
  const spawned = {
    payment: processUsage(payment.proc.pid!),
    points: processUsage(points.proc.pid!),
    marketing: processUsage(marketing.proc.pid!),
    sandbox: processUsage(sandbox.pid),
  };
  const figures: Figure[] = [
    {
      name: 'checkouts_per_s',
      value: round(checkoutsPerS, 1),
      unit: 'checkouts/s',
      how: `end to end: first CreateCheckout sent to the last checkout COMPLETED (coupon code claimed and reserved, 300 points reserved, payment opened at the sandbox and paid at once, both confirmed); ${p.checkouts} checkouts, ${p.concurrency} in flight`,
    },
    {
      name: 'checkout_p99_ms',
      value: round(p99, 1),
      unit: 'ms',
      how: 'checkout created_at to completed_at (payment database clock), 99th percentile',
    },
    { name: 'checkout_p50_ms', value: round(p50, 1), unit: 'ms', how: 'as checkout_p99_ms, median' },
    {
      name: 'payments_per_s',
      value: round(paymentsPerS, 1),
      unit: 'payments/s',
      how: `same run and processes: first CreatePayment sent to the last payment SUCCEEDED in the payment database; ${p.payments} payments, ${p.concurrency} in flight`,
    },
    {
      name: 'checkouts_to_payments',
      value: round(checkoutsPerS / paymentsPerS, 3),
      unit: 'ratio',
      how: 'checkouts_per_s / payments_per_s (target >= 0.5)',
    },
    {
      name: 'cpu_ms_per_checkout',
      value: round(cpuPerCheckout, 1),
      unit: 'ms',
      how: 'CPU time of the whole machine (every process: services, PostgreSQL, Kafka, bench) from the first CreateCheckout until the machine settled after the last, per checkout',
    },
    {
      name: 'cpu_ms_per_payment',
      value: round(cpuPerPayment, 1),
      unit: 'ms',
      how: 'as cpu_ms_per_checkout, for the plain payments',
    },
    {
      name: 'cpu_payment_to_checkout',
      value: round(cpuPerPayment / cpuPerCheckout, 3),
      unit: 'ratio',
      how: 'cpu_ms_per_payment / cpu_ms_per_checkout: what checkouts_to_payments tends to when the machine is CPU-bound',
    },
    { name: 'checkouts_released', value: released[0]?.n ?? 0, unit: 'checkouts', how: 'must be 0' },
  ];
  printBenchmarkFigures('checkout', started, figures);
  await writeBenchReport(
    'checkout',
    started,
    figureValues(figures),
    { checkouts: p.checkouts, payments: p.payments, concurrency: p.concurrency },
    spawned,
  );
}
