import { execFileSync, spawn } from 'child_process';
import { connect } from 'net';
import { readFileSync } from 'fs';
import { join } from 'path';
import { Metadata, status } from '@grpc/grpc-js';
import { TenancyServiceService } from '@citybase/contracts/citybase/identity/v1/tenancy';
import { PaymentScenario, PaymentServiceService } from '@citybase/contracts/citybase/payment/v1/payment';
import { bearer, grpcClient, grpcHealthStatus, REPO_ROOT, waitFor } from '@citybase/platform/testing';

/** What README promises of `npm start` (package.json: bash deploy/local/start.sh). */
const SERVICES = [
  ['identity', 50051, 8081, 'TenancyService'],
  ['payment', 50052, 8082, 'PaymentService'],
  ['settlement', 50053, 8083, 'SettlementService'],
  ['points', 50054, 8084, 'PointsService'],
  ['marketing', 50055, 8085, 'MarketingService'],
  ['iot', 50056, 8086, 'IotService'],
  ['data', 50057, 8087, 'DataService'],
] as const;

const listening = (port: number) =>
  new Promise<boolean>((resolve) => {
    const s = connect({ host: '127.0.0.1', port });
    s.once('connect', () => (s.destroy(), resolve(true)));
    s.once('error', () => resolve(false));
  });

/** Payments the city holds today (payment's QueryFundFlows) and the data dashboard's count of them. */
async function cityFigures(): Promise<{ paid: number; dashboardPayments: number }> {
  const stateDir = execFileSync('bash', ['deploy/local/infra.sh', 'state-dir'], {
    cwd: REPO_ROOT,
  }).toString();
  const admin = JSON.parse(readFileSync(join(stateDir, 'city-admin.json'), 'utf8')) as {
    client_id: string;
    client_secret: string;
  };
  const res = await fetch('http://127.0.0.1:8081/oauth/token', {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'client_credentials', ...admin }), // every scope: the city admin
  });
  const { access_token: token } = (await res.json()) as { access_token: string };
  const payment = grpcClient(PaymentServiceService, '127.0.0.1:50052', () => bearer(token));
  try {
    // payment's days are the city's (UTC+8): from 16:00 UTC on, today's payments are on tomorrow's
    // UTC date, so the window reaches a day either side of the UTC date
    const day = new Date(Date.now() + 86_400_000).toISOString().slice(0, 10);
    const yesterday = new Date(Date.now() - 86_400_000).toISOString().slice(0, 10);
    const flows = await payment.queryFundFlows({
      operatorId: '',
      projectId: '',
      channelId: '',
      scenario: PaymentScenario.PAYMENT_SCENARIO_UNSPECIFIED,
      fromDay: yesterday,
      toDay: day,
      groupBy: [],
    });
    const paid = flows.rows.reduce((n, r) => n + Number(r.payments), 0);
    const snap = (await (
      await fetch('http://127.0.0.1:8087/dashboard/snapshot', {
        headers: { authorization: `Bearer ${token}` },
      })
    ).json()) as { panels?: { panelId: string; figures: { name: string; value: string }[] }[] };
    const figure = snap.panels
      ?.find((p) => p.panelId === 'payments')
      ?.figures.find((f) => f.name === 'payments');
    return { paid, dashboardPayments: Number(figure?.value ?? 0) };
  } finally {
    payment.close();
  }
}

describe('npm start', () => {
  it('brings up every service (gRPC health SERVING, /readyz 200), runs the city simulator (payments reach payment and the dashboard), and SIGTERM stops every one of them after the simulator reports its invariants held', async () => {
    for (const [name, grpcPort] of SERVICES) expect([name, await listening(grpcPort)]).toEqual([name, false]);
    const proc = spawn('bash', ['deploy/local/start.sh'], {
      cwd: REPO_ROOT,
      // the city simulator at a brisk rate, so payments show up soon; built already (int-test
      // depends on build), and a build here would restore every dist/ under the suites beside it
      env: { ...process.env, LOG_LEVEL: 'warn', CITYBASE_SIM_RATE: '4', CITYBASE_SKIP_BUILD: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    proc.stdout.on('data', (d: Buffer) => (out += d.toString()));
    proc.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)));
    try {
      const state = await waitFor(
        '"Citybase is up"',
        async () => (proc.exitCode !== null ? 'exited' : out.includes('Citybase is up') ? 'up' : undefined),
        240_000,
        250,
      );
      expect({ state, out: state === 'up' ? '' : out.slice(-3000) }).toEqual({ state: 'up', out: '' });
      // what the city holds already (the local city's databases outlive a run): the simulator adds to it
      const before = await cityFigures();
      for (const [name, grpcPort, httpPort, service] of SERVICES) {
        expect(out).toContain(`127.0.0.1:${grpcPort}`);
        expect([name, await grpcHealthStatus(`127.0.0.1:${grpcPort}`)]).toEqual([name, 'SERVING']);
        expect([
          name,
          await grpcHealthStatus(`127.0.0.1:${grpcPort}`, `citybase.${name}.v1.${service}`),
        ]).toEqual([name, 'SERVING']);
        const ready = await fetch(`http://127.0.0.1:${httpPort}/readyz`);
        expect([name, ready.status]).toEqual([name, 200]);
      }
      // the sandbox payment channel runs beside them
      expect((await fetch('http://127.0.0.1:8090/healthz')).status).toBe(200);
      // the city is initialised: the saved admin credentials get a token, which a service accepts
      const stateDir = execFileSync('bash', ['deploy/local/infra.sh', 'state-dir'], {
        cwd: REPO_ROOT,
      }).toString();
      const admin = JSON.parse(readFileSync(join(stateDir, 'city-admin.json'), 'utf8')) as {
        client_id: string;
        client_secret: string;
      };
      const tokenFor = (c: { client_id: string; client_secret: string }, scope: string) =>
        fetch('http://127.0.0.1:8081/oauth/token', {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: new URLSearchParams({
            grant_type: 'client_credentials',
            client_id: c.client_id,
            client_secret: c.client_secret,
            scope,
          }),
        });
      const res = await tokenFor(admin, 'identity:tenancy.read');
      expect(res.status).toBe(200);
      // marketing calls payment and settlement as its own client (docs/adr/0010), created once
      const marketing = JSON.parse(readFileSync(join(stateDir, 'marketing-client.json'), 'utf8')) as {
        client_id: string;
        client_secret: string;
      };
      expect((await tokenFor(marketing, 'payment:write payment:refund settlement:write')).status).toBe(200);
      // payment's checkouts call points and marketing as its own client, created the same way
      const payment = JSON.parse(readFileSync(join(stateDir, 'payment-client.json'), 'utf8')) as {
        client_id: string;
        client_secret: string;
      };
      expect(
        (await tokenFor(payment, 'points:write points:read marketing:redeem marketing:claim')).status,
      ).toBe(200);
      // iot bills parking and charging through payment as its own client, made the same way
      const iot = JSON.parse(readFileSync(join(stateDir, 'iot-client.json'), 'utf8')) as {
        client_id: string;
        client_secret: string;
      };
      expect((await tokenFor(iot, 'payment:write payment:read')).status).toBe(200);
      expect((await tokenFor(iot, 'payment:refund')).status).not.toBe(200);
      const { access_token: token } = (await res.json()) as { access_token: string };
      const tenancy = grpcClient(TenancyServiceService, '127.0.0.1:50051', () => bearer(token));
      try {
        await expect(tenancy.listOperators({ page: undefined })).resolves.toMatchObject({
          operators: expect.any(Array),
        });
        await expect(tenancy.listOperators({ page: undefined }, new Metadata())).rejects.toMatchObject({
          code: status.UNAUTHENTICATED,
        });
      } finally {
        tenancy.close();
      }
      // the city simulator runs (started by start.sh): the dashboard's URL and sign-in are printed,
      // and payments, their events in data's store and the dashboard's figures grow
      expect(out).toContain('Dashboard: http://127.0.0.1:8087/dashboard');
      expect(out).toContain(
        `sign in with the client_id and client_secret of ${join(stateDir, 'city-admin.json')}`,
      );
      const grown = await waitFor(
        'the simulator makes payments that reach payment, data and the dashboard',
        async () => {
          if (proc.exitCode !== null) return 'exited';
          // the simulator's summary line (every 10 s) says it completed payments of its own
          if (!/\[simulator\] \d\d:\d\d:\d\d .*fee=[1-9]/.test(out)) return undefined;
          const now = await cityFigures();
          return now.paid > before.paid && now.dashboardPayments > before.dashboardPayments ? now : undefined;
        },
        240_000,
        2_000,
      ).catch((err: Error) => `${err.message}\n${out.slice(-3000)}`);
      expect(typeof grown === 'object' ? 'grown' : grown).toBe('grown');
    } finally {
      proc.kill('SIGTERM');
    }
    expect(await exited).toBe(0);
    // Ctrl-C / SIGTERM stops the simulator first: it checks the invariants and prints its report
    const report = out
      .split('\n')
      .filter((l) => l.startsWith('{"simulator":"report"'))
      .map(
        (l) => JSON.parse(l) as { ok: boolean; invariants: { name: string; ok: boolean; detail: string }[] },
      );
    expect(report).toHaveLength(1);
    expect(report[0]!.invariants.filter((i) => !i.ok)).toEqual([]);
    expect(report[0]!.ok).toBe(true);
    for (const [name, grpcPort, httpPort] of SERVICES) {
      expect([name, await listening(grpcPort), await listening(httpPort)]).toEqual([name, false, false]);
    }
    expect(['sandbox', await listening(8090)]).toEqual(['sandbox', false]);
  }, 600_000);
});
