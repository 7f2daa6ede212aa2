import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { CityApi, endpointsFromEnv, Endpoints, readCredentials, TokenSource } from './api';
import { buildCity, City } from './city';
import type { Json } from './descriptor-rpc';
import { allHold, evaluateInvariants, InvariantInputs, InvariantResult, LedgerReport } from './invariants';
import { gatherLifeFigures } from './life-checks';
import { DayOfLife, Ledger, until } from './ops';
import { DEFAULTS, type CityOptions } from './options';
import { Random } from './random';
import { Pacer } from './rate';
import { OP_KINDS, OpKind, ScenarioChooser } from './scenario';
import { KindTotals, renderLine, renderSummary, Stats } from './summary';

/** What runCity ends with (also the CLI's last line, as JSON): `ok` when every invariant held. */
export interface CityReport {
  simulator: 'report';
  ok: boolean;
  runId: string;
  seed: string;
  targetRate: number;
  /** Seconds of load (from the first operation to the last one finishing). */
  loadSeconds: number;
  /** Seconds the city took to build. */
  buildSeconds: number;
  /** Operations finished per second over the load (ok + refused: the city answered them). */
  opsPerSecond: number;
  ops: Record<OpKind, Omit<KindTotals, 'latencyMsSum'> & { meanMs: number }>;
  totals: { ok: number; refused: number; failed: number; skipped: number };
  /** Operations still running when the run ended (after the drain), per kind: their outcome is unknown. */
  unfinished: Partial<Record<OpKind, number>>;
  figures: {
    operators: number;
    communities: number;
    households: number;
    /** Devices connected to the broker with their own credentials (gates, doors, sensors). */
    devicesConnected: number;
    telemetryAcked: number;
    alarmsRaised: number;
    /** Alarms staff (the simulator) acknowledged through iot. */
    alarmsAcknowledged: number;
    refundsAccepted: number;
    /** Group buys opened (set-up and during the day), by how they stand at the end. */
    groupDeals: { opened: number; open: number; succeeded: number; failed: number };
    /** Seats marketing answered to the simulator's joins. */
    groupSeats: number;
    /** Disputes resolved, by resolution. */
    disputesResolved: { release: number; refund: number; partial: number };
    /** Family members bound to households, and what they did (fees paid, doors opened). */
    householdMembers: number;
    memberFees: number;
    memberDoors: number;
    feedRows: string;
  };
  invariants: InvariantResult[];
  topErrors: { message: string; count: number }[];
}

export interface RunHooks {
  /** Environment for endpoints (default process.env). */
  env?: Record<string, string | undefined>;
  /** Ends the day of life early (the invariants still run). */
  signal?: AbortSignal;
  /** Where the live summary goes (default stdout); `tty` redraws it in place, else plain lines. */
  write?: (text: string) => void;
  tty?: boolean;
  /** Progress lines (set-up, invariants); default stderr. */
  log?: (line: string) => void;
  /** Seconds between plain summary lines when not a terminal (default 10). */
  lineIntervalS?: number;
}

const SETTLEMENT_ADMIN = (env: Record<string, string | undefined>) =>
  env.CITYBASE_SETTLEMENT_ADMIN ||
  join(__dirname, '..', '..', '..', 'services', 'settlement', 'dist', 'admin.js');

/**
 * Builds a city through the public APIs, runs a day of life at `options.rate` operations per
 * second until `options.durationS` passed or `hooks.signal` aborts, then checks the invariants.
 */
export async function runCity(options: CityOptions, hooks: RunHooks = {}): Promise<CityReport> {
  const env = hooks.env ?? process.env;
  const write = hooks.write ?? ((t: string) => void process.stdout.write(t));
  const tty = hooks.tty ?? false;
  const log = hooks.log ?? ((l: string) => void process.stderr.write(`[simulator] ${l}\n`));
  const endpoints = endpointsFromEnv(env);
  const admin = new TokenSource(
    endpoints.identityHttp,
    options.credentials ?? readCredentials(options.credentialsFile),
  );
  const api = new CityApi(endpoints, admin);
  const random = new Random(options.seed);
  let city: City | undefined;
  try {
    const buildStart = Date.now();
    log(`building the city (seed ${options.seed})`);
    city = await buildCity(api, options, random, log);
    await doorsReady(api, city);
    const buildSeconds = (Date.now() - buildStart) / 1000;
    log(`city ${city.runId} built in ${buildSeconds.toFixed(1)}s; a day of life at ${options.rate} ops/s`);

    const life = new DayOfLife(api, city, random);
    const chooser = new ScenarioChooser(random);
    const start = Date.now();
    const stats = new Stats(start, options.rate);
    const pacer = new Pacer(options.rate, start, options.maxInFlight);
    const running = new Set<Promise<void>>();
    const endAt = options.durationS === undefined ? Infinity : start + options.durationS * 1000;
    let drawn = 0;
    let lastLine = 0;
    const draw = (final = false) => {
      const snap = stats.snapshot(Date.now());
      const lineDue = final || Date.now() - lastLine >= (hooks.lineIntervalS ?? 10) * 1000;
      if (lineDue) lastLine = Date.now();
      if (tty) {
        const lines = renderSummary(snap);
        write(`${drawn > 0 ? `\x1b[${drawn}F\x1b[J` : ''}${lines.join('\n')}\n`);
        drawn = lines.length;
        // the log keeps the plain lines
        if (lineDue) log(renderLine(snap).replace(/^\[simulator\] /, ''));
      } else if (lineDue) {
        write(`${renderLine(snap)}\n`);
      }
    };
    const launch = (kind: OpKind) => {
      const began = Date.now();
      stats.begin(kind);
      const p: Promise<void> = life.run(kind).then(
        (outcome) => stats.finish(kind, outcome, Date.now() - began, Date.now()),
        (err: unknown) =>
          stats.finish(kind, 'failed', Date.now() - began, Date.now(), (err as Error).message ?? String(err)),
      );
      const tracked = p.finally(() => running.delete(tracked));
      running.add(tracked);
    };
    const timer = setInterval(() => draw(), 1000);
    const aborted = new Promise<void>((resolve) => {
      if (hooks.signal?.aborted) resolve();
      hooks.signal?.addEventListener('abort', () => resolve(), { once: true });
    });
    try {
      while (!hooks.signal?.aborted && Date.now() < endAt) {
        const n = pacer.take(Date.now(), running.size);
        stats.skipped = pacer.skipped;
        for (let i = 0; i < n; i++) {
          const kind = chooser.next(life.eligible);
          if (kind) launch(kind);
        }
        const wait = Math.min(pacer.msUntilNext(Date.now()), 200, Math.max(0, endAt - Date.now()));
        let t: NodeJS.Timeout | undefined;
        await Promise.race([
          new Promise<void>((resolve) => (t = setTimeout(resolve, Math.max(1, wait)))),
          aborted,
        ]);
        clearTimeout(t);
      }
      log(`stopping the load; waiting for ${running.size} operation(s) under way`);
      // what is still running after the drain time counts as unsure in the invariants
      await Promise.race([Promise.all([...running]), new Promise((r) => setTimeout(r, DRAIN_TIMEOUT_MS))]);
    } finally {
      clearInterval(timer);
    }
    const loadSeconds = (Date.now() - start) / 1000;
    draw(true);
    log('checking the invariants');
    // side by side: the group buys' wait for marketing and settlement overlaps the ledger check
    const [inputs, lifeFigures] = await Promise.all([
      gatherInvariantInputs(api, endpoints, city, life.ledger, env),
      gatherLifeFigures(api, city, life.ledger, (options.settleS ?? DEFAULTS.settleS) * 1000),
    ]);
    const invariants = evaluateInvariants({ ...inputs, ...lifeFigures });
    const dealCount = (s: number) => lifeFigures.deals.filter((d) => d.status === s).length;
    const resolved = (r: string) => life.ledger.disputes.filter((d) => d.resolution === r).length;
    const snap = stats.snapshot(Date.now());
    const totals = { ok: 0, refused: 0, failed: 0, skipped: stats.skipped };
    const ops = {} as CityReport['ops'];
    for (const k of OP_KINDS) {
      const t = snap.kinds[k];
      const n = t.ok + t.refused + t.failed;
      ops[k] = {
        ok: t.ok,
        refused: t.refused,
        failed: t.failed,
        meanMs: n > 0 ? Math.round(t.latencyMsSum / n) : 0,
      };
      totals.ok += t.ok;
      totals.refused += t.refused;
      totals.failed += t.failed;
    }
    const communities = city.operators.flatMap((o) => o.communities);
    return {
      simulator: 'report',
      ok: allHold(invariants),
      runId: city.runId,
      seed: options.seed,
      targetRate: options.rate,
      loadSeconds: round2(loadSeconds),
      buildSeconds: round2(buildSeconds),
      opsPerSecond: loadSeconds > 0 ? round2((totals.ok + totals.refused) / loadSeconds) : 0,
      ops,
      totals,
      unfinished: snap.inFlightKinds,
      figures: {
        operators: city.operators.length,
        communities: communities.length,
        households: communities.reduce((n, c) => n + c.households.length, 0),
        devicesConnected: city.devices.length,
        telemetryAcked: life.ledger.telemetryAcked,
        alarmsRaised: life.ledger.alarmsRaised,
        alarmsAcknowledged: life.ledger.alarmsAcknowledged.size,
        refundsAccepted: life.ledger.refundsAccepted,
        groupDeals: {
          opened: lifeFigures.deals.length,
          open: dealCount(1),
          succeeded: dealCount(2),
          failed: dealCount(3),
        },
        groupSeats: [...life.ledger.seats.values()].reduce((n, s) => n + s.size, 0),
        disputesResolved: {
          release: resolved('RELEASE'),
          refund: resolved('REFUND'),
          partial: resolved('PARTIAL'),
        },
        householdMembers: communities.reduce(
          (n, c) => n + c.households.reduce((m, h) => m + h.members.length, 0),
          0,
        ),
        memberFees: life.ledger.memberFees,
        memberDoors: life.ledger.memberDoors,
        feedRows: String(life.ledger.feedRows),
      },
      invariants,
      topErrors: snap.topErrors,
    };
  } finally {
    for (const d of city?.devices ?? []) await d.stop().catch(() => undefined);
    api.close();
  }
}

/** How long the end of a run waits for the operations under way. */
const DRAIN_TIMEOUT_MS = 20_000;

const round2 = (n: number) => Math.round(n * 100) / 100;

/**
 * iot learns door grants and household members from identity's events: wait until each
 * community's first resident, and each family member (with the household's grant), gets in.
 */
async function doorsReady(api: CityApi, city: City): Promise<void> {
  for (const op of city.operators)
    for (const c of op.communities) {
      const people = [c.households[0]!.residentId, ...c.households.flatMap((h) => h.members)];
      for (const residentId of people)
        await until(
          `iot to know the door grants of ${c.label}`,
          async () => {
            const r = await api.call('/citybase.iot.v1.AccessService/OpenDoor', {
              requestId: `${c.world.projectId}-warmup-${residentId}-${Date.now()}`,
              tenancy: { operatorId: c.world.operatorId, projectId: c.world.projectId },
              deviceId: c.door.device.deviceId,
              residentId,
            });
            return r.code === 0 ? true : undefined;
          },
          120_000,
        );
    }
}

async function gatherInvariantInputs(
  api: CityApi,
  endpoints: Endpoints,
  city: City,
  ledger: Ledger,
  env: Record<string, string | undefined>,
): Promise<InvariantInputs> {
  // settlement consumes payment's events asynchronously: let it catch up before reading its ledger
  await new Promise((r) => setTimeout(r, 3_000));
  const inputs: InvariantInputs = { budgets: [], coupons: [], counts: [] };
  try {
    inputs.ledger = await ledgerCheck(SETTLEMENT_ADMIN(env), endpoints.settlementDatabase);
  } catch (err) {
    inputs.ledgerError = (err as Error).message;
  }
  const budget = async (name: string, tenancy: Json) => {
    const b = (await api.ok('/citybase.points.v1.PointsService/GetBudget', { tenancy, period: city.period }))
      .budget as Json;
    inputs.budgets.push({ name, allotted: BigInt(b.allotted as string), issued: BigInt(b.issued as string) });
  };
  await budget(`city (${city.period})`, {});
  for (const op of city.operators) {
    await budget(`operator ${op.operatorId} (${city.period})`, { operatorId: op.operatorId });
    for (const [campaignId, label] of [
      [op.chargingCampaignId, 'EV charging campaign'],
      [op.flashCampaignId, 'flash sale'],
    ] as const) {
      const c = (
        await api.ok('/citybase.marketing.v1.MarketingService/GetCampaign', {
          tenancy: { operatorId: op.operatorId },
          campaignId,
        })
      ).campaign as Json;
      inputs.coupons.push({
        name: `${label} ${campaignId}`,
        maxCoupons: BigInt((c.maxCoupons as string | undefined) ?? '0'),
        claimed: BigInt((c.claimed as string | undefined) ?? '0'),
        claimedBySimulator: ledger.claims.get(campaignId) ?? 0n,
        // asked, neither acknowledged nor clearly refused (timed out, or still running at the end)
        unsure:
          (ledger.claimsAsked.get(campaignId) ?? 0n) -
          (ledger.claims.get(campaignId) ?? 0n) -
          (ledger.claimsRefused.get(campaignId) ?? 0n),
      });
    }
    for (const c of op.communities) {
      const projectId = c.world.projectId;
      let completed = 0;
      let pageToken = '';
      do {
        const page = await api.ok('/citybase.payment.v1.PaymentService/ListCheckouts', {
          tenancy: { operatorId: op.operatorId, projectId },
          page: { pageSize: 500, pageToken },
        });
        completed += ((page.checkouts ?? []) as Json[]).filter((co) => co.status === 3).length;
        pageToken = ((page.page as Json | undefined)?.nextPageToken as string | undefined) ?? '';
      } while (pageToken);
      inputs.counts.push({
        name: `checkouts completed in ${c.label} (payment ListCheckouts)`,
        simulator: ledger.checkoutsCompleted.get(projectId) ?? 0,
        unsure:
          (ledger.checkoutsAsked.get(projectId) ?? 0) -
          (ledger.checkoutsCompleted.get(projectId) ?? 0) -
          (ledger.checkoutsReleased.get(projectId) ?? 0) -
          (ledger.checkoutsRefused.get(projectId) ?? 0),
        service: completed,
      });
    }
  }
  return inputs;
}

/** settlement's own ledger check over its database (admin.js check-ledger: exit 0 holds, 3 does not). */
function ledgerCheck(script: string, database: string): Promise<LedgerReport> {
  if (!existsSync(script)) return Promise.reject(new Error(`${script} not found: build settlement first`));
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [script, 'check-ledger', '--database', database], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', reject);
    child.on('exit', (code) => {
      if (code !== 0 && code !== 3)
        return reject(new Error(`check-ledger exited ${code}: ${err.slice(-400)}`));
      try {
        resolve(JSON.parse(out) as LedgerReport);
      } catch {
        reject(new Error(`check-ledger printed no JSON report: ${out.slice(-400)}`));
      }
    });
  });
}
