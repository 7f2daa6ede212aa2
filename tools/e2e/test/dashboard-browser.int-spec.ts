import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from 'pg';
import { chromium, Browser, Page } from 'playwright-core';
import { ClientServiceService } from '@citybase/contracts/citybase/identity/v1/clients';
import { ProjectKind, TenancyServiceService } from '@citybase/contracts/citybase/identity/v1/tenancy';
import {
  PaymentScenario,
  PaymentServiceService,
  PaymentStatus,
} from '@citybase/contracts/citybase/payment/v1/payment';
import {
  bearer,
  createTestDatabase,
  grpcClient,
  kafkaTestPrefix,
  REPO_ROOT,
  routeProjectToSandbox,
  SandboxChannelProcess,
  ServiceProcess,
  spawnSandboxChannel,
  spawnService,
  TEST_IDENTITY_MASTER_KEY,
  TestDatabase,
  TestIssuer,
  waitFor,
} from '@citybase/platform/testing';
import { spawnReadyService } from '../src';

/** Where the screenshots are kept (gitignored): .artifacts/dashboard-browser/ at the repository root. */
const ARTIFACTS = join(REPO_ROOT, '.artifacts', 'dashboard-browser');

/** Debian's Chromium (deploy/local/install.sh installs it). */
function chromiumPath(): string {
  const found = spawnSync('bash', ['-c', 'command -v chromium'], { encoding: 'utf8' }).stdout.trim();
  if (!found)
    throw new Error('chromium is not installed: run deploy/local/install.sh (apt-get install -y chromium)');
  return found;
}

/**
 * The one-screen dashboard in a real browser: identity, payment, data and the sandbox channel as
 * processes. An operator's client (created through identity) signs in on the page; payments made
 * through payment and the sandbox channel appear on it, equal to what the store's database holds,
 * and update live without a reload; another operator's project is absent. Screenshots at
 * 1920x1080 and 1366x768 are kept in .artifacts/dashboard-browser/.
 */
describe('the dashboard in Chromium, with identity, payment and data', () => {
  const prefix = kafkaTestPrefix('dash');
  const issuer = new Map<string, TestIssuer>();
  const dbs: TestDatabase[] = [];
  const procs: ServiceProcess[] = [];
  let sandbox: SandboxChannelProcess | undefined;
  let identity: ServiceProcess;
  let payment: ServiceProcess;
  let data: ServiceProcess;
  let browser: Browser | undefined;
  let adminToken: string;
  let store: Client;
  const names = {
    a: `Alpha Gardens ${randomUUID().slice(0, 6)}`,
    b: `Beta Plaza ${randomUUID().slice(0, 6)}`,
  };
  const ids = { operatorA: '', projectA: '', operatorB: '', projectB: '' };

  const token = async (clientId: string, secret: string, scope: string): Promise<string> => {
    const res = await fetch(`${identity.httpUrl}/oauth/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'client_credentials',
        client_id: clientId,
        client_secret: secret,
        scope,
      }),
    });
    const body = (await res.json()) as { access_token?: string };
    if (!body.access_token) throw new Error(`no token: ${JSON.stringify(body)}`);
    return body.access_token;
  };

  const pay = async (operatorId: string, projectId: string, amountMinor: bigint): Promise<string> => {
    const client = grpcClient(PaymentServiceService, payment.grpcAddress, () =>
      issuer.get('t')!.metadata({ scopes: ['payment:write', 'payment:read'], operators: [operatorId] }),
    );
    try {
      const { payment: created } = await client.createPayment({
        requestId: randomUUID(),
        tenancy: { operatorId, projectId, merchantId: '' },
        merchantId: `m-${projectId}`.slice(0, 64),
        scenario: PaymentScenario.PAYMENT_SCENARIO_PARKING,
        amount: { currency: 'CNY', amountMinor },
        payerRef: 'resident-1',
        description: 'parking',
        expiresInSeconds: 0,
        profitSharing: false,
      });
      const paymentId = created!.paymentId;
      await sandbox!.pay(paymentId, 'success');
      await waitFor(
        `payment ${paymentId} succeeded`,
        async () =>
          (await client.getPayment({ paymentId })).payment?.status === PaymentStatus.PAYMENT_STATUS_SUCCEEDED
            ? true
            : undefined,
        60_000,
      );
      return paymentId;
    } finally {
      client.close();
    }
  };

  /** GMV of operator A in the store's database (the last 24 hourly buckets, as the page). */
  const storeGmv = async (operatorId: string): Promise<string> => {
    const { rows } = await store.query<{ gmv: string }>(
      `SELECT coalesce(sum(amount_minor), 0)::text AS gmv FROM fact_payment
       WHERE status = 'succeeded' AND operator_id = $1 AND occurred_at >= date_trunc('hour', now()) - interval '23 hours'`,
      [operatorId],
    );
    return rows[0]!.gmv;
  };
  const pageGmv = (page: Page) =>
    page
      .locator('#panel-payments dd[data-figure="gmv"]')
      .getAttribute('data-value', { timeout: 1_000 })
      .catch(() => null);

  beforeAll(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    const testIssuer = await TestIssuer.start();
    issuer.set('t', testIssuer);
    const db = async (name: string) => {
      const d = await createTestDatabase(`dash_${name}`);
      dbs.push(d);
      return d;
    };
    const [identityDb, paymentDb, dataDb] = await Promise.all([db('identity'), db('payment'), db('data')]);
    // the city's first admin, as `npm start` creates it
    const init = spawnSync(
      process.execPath,
      [join(REPO_ROOT, 'services/identity/dist/admin.js'), 'init-city'],
      {
        env: {
          PATH: process.env.PATH ?? '',
          DATABASE_URL: identityDb.url,
          IDENTITY_MASTER_KEY: TEST_IDENTITY_MASTER_KEY,
          CITY_ID: 'test-city',
          KAFKA_TOPIC_PREFIX: prefix,
        },
        encoding: 'utf8',
      },
    );
    if (init.status !== 0) throw new Error(`init-city failed: ${init.stderr}`);
    const admin = JSON.parse(init.stdout.trim()) as { client_id: string; client_secret: string };
    identity = await spawnService('identity', ({ httpPort }) => ({
      DATABASE_URL: identityDb.url,
      KAFKA_TOPIC_PREFIX: prefix,
      AUTH_JWKS_URL: `http://127.0.0.1:${httpPort}/.well-known/jwks.json`,
      LOG_LEVEL: 'warn',
    }));
    procs.push(identity);
    await identity.ready();
    const jwks = `${identity.httpUrl}/.well-known/jwks.json`;
    // payment trusts the test issuer (the test pays as operators); data trusts identity's keys
    payment = await spawnReadyService('payment', { db: paymentDb, kafkaPrefix: prefix, issuer: testIssuer });
    procs.push(payment);
    data = await spawnService('data', {
      DATABASE_URL: dataDb.url,
      KAFKA_TOPIC_PREFIX: prefix,
      AUTH_JWKS_URL: jwks,
      DATA_IDENTITY_TOKEN_URL: `${identity.httpUrl}/oauth/token`,
      DATA_FOLD_INTERVAL_MS: '100',
      LOG_LEVEL: 'warn',
    });
    procs.push(data);
    await data.ready();
    store = new Client({ connectionString: dataDb.url });
    await store.connect();

    // every scope of the city admin
    adminToken = await token(admin.client_id, admin.client_secret, '');
    const tenancy = grpcClient(TenancyServiceService, identity.grpcAddress, () => bearer(adminToken));
    try {
      for (const [key, name] of [
        ['A', names.a],
        ['B', names.b],
      ] as const) {
        const { operator } = await tenancy.createOperator({ requestId: randomUUID(), name: `${name} Co` });
        const { project } = await tenancy.createProject({
          requestId: randomUUID(),
          operatorId: operator!.operatorId,
          name,
          kind: ProjectKind.PROJECT_KIND_RESIDENTIAL,
        });
        ids[`operator${key}`] = operator!.operatorId;
        ids[`project${key}`] = project!.projectId;
      }
    } finally {
      tenancy.close();
    }
    sandbox = await spawnSandboxChannel();
    for (const k of ['A', 'B'] as const)
      await routeProjectToSandbox({
        paymentAddress: payment.grpcAddress,
        issuer: testIssuer,
        sandbox,
        operatorId: ids[`operator${k}`],
        projectId: ids[`project${k}`],
      });
    browser = await chromium.launch({
      executablePath: chromiumPath(),
      headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
    });
  }, 300_000);

  afterAll(async () => {
    await browser?.close();
    await store?.end();
    for (const p of procs.reverse()) await p.stop();
    await sandbox?.stop();
    await Promise.all(dbs.map((d) => d.drop()));
    await issuer.get('t')?.stop();
  });

  it("shows a signed-in operator its own figures, equal to the store's and live; another operator's project is absent", async () => {
    // operator A's dashboard client, created through identity (data:read, A's subtree only)
    const clients = grpcClient(ClientServiceService, identity.grpcAddress, () => bearer(adminToken));
    let clientId: string;
    let secret: string;
    try {
      const created = await clients.createClient({
        requestId: randomUUID(),
        name: 'Alpha dashboard',
        scopes: ['data:read'],
        tenancy: { operatorIds: [ids.operatorA], projectIds: [] },
      });
      clientId = created.client!.clientId;
      secret = created.clientSecret;
    } finally {
      clients.close();
    }
    await pay(ids.operatorA, ids.projectA, 1_250n);
    await pay(ids.operatorA, ids.projectA, 3_000n);
    await pay(ids.operatorB, ids.projectB, 77_700n);
    await waitFor(
      'the store has the three payments',
      async () =>
        (await storeGmv(ids.operatorA)) === '4250' && (await storeGmv(ids.operatorB)) === '77700'
          ? true
          : undefined,
      60_000,
    );

    const context = await browser!.newContext({ viewport: { width: 1920, height: 1080 } });
    const page = await context.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
    const external: string[] = [];
    page.on('request', (r) => !r.url().startsWith(data.httpUrl) && external.push(r.url()));
    try {
      await page.goto(`${data.httpUrl}/dashboard`);
      await page.getByLabel('Client id').fill(clientId);
      await page.getByLabel('Client secret').fill(secret);
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.locator('#panel-payments').waitFor({ timeout: 30_000 });
      await waitFor(
        "the page shows the store's GMV of operator A",
        async () => ((await pageGmv(page)) === (await storeGmv(ids.operatorA)) ? true : undefined),
        30_000,
      );
      expect(await pageGmv(page)).toBe('4250');
      await expect(page.locator('#panel-payments dd[data-figure="gmv"]').textContent()).resolves.toBe(
        '¥42.50',
      );
      // A's project is listed by name; B's project, operator and money are not on the page
      const text = await page.locator('body').innerText();
      expect(text).toContain(names.a);
      expect(text).not.toContain(names.b);
      const html = await page.content();
      for (const foreign of [ids.operatorB, ids.projectB, '777.00', '77,700'])
        expect(html).not.toContain(foreign);
      // accessible structure: landmarks, one h1, a heading per panel, live figures, table fallbacks
      await expect(page.getByRole('banner').count()).resolves.toBe(1);
      await expect(page.getByRole('main').count()).resolves.toBe(1);
      await expect(page.getByRole('heading', { level: 1 }).count()).resolves.toBe(1);
      await expect(page.locator('#panel-payments dd[aria-live="polite"]').count()).resolves.toBeGreaterThan(
        0,
      );
      await expect(page.locator('#panel-payments table caption').count()).resolves.toBeGreaterThan(0);
      await expect(page.locator('#panel-payments canvas').count()).resolves.toBeGreaterThan(0);
      await expect(page.locator('#panel-payments .badge').textContent()).resolves.toMatch(/newest \d+/);

      // live: a new payment of A appears without a reload; the page is the same document
      await page.evaluate('window.marker = 42');
      await pay(ids.operatorA, ids.projectA, 500n);
      await waitFor(
        "the page updates live to the store's new GMV",
        async () =>
          (await pageGmv(page)) === '4750' && (await storeGmv(ids.operatorA)) === '4750' ? true : undefined,
        30_000,
      );
      expect(await page.evaluate('window.marker')).toBe(42);
      await page.screenshot({ path: join(ARTIFACTS, 'dashboard-1920x1080.png'), fullPage: false });
      // a laptop screen: the panels reflow, nothing is cut off sideways
      await page.setViewportSize({ width: 1366, height: 768 });
      await page.waitForTimeout(300);
      const overflow = await page.evaluate('document.documentElement.scrollWidth - window.innerWidth');
      expect(overflow).toBeLessThanOrEqual(0);
      await page.screenshot({ path: join(ARTIFACTS, 'dashboard-1366x768.png'), fullPage: true });
      expect(external).toEqual([]);
      expect(errors).toEqual([]);
    } finally {
      await context.close();
    }
  }, 240_000);
});
