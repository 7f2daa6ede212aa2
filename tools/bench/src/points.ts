// `npm run bench -- points`: points transactions per second through the built points process over
// gRPC (its PostgreSQL at the services' synchronous_commit): IssuePoints (earn) then ReservePoints
// and ConfirmReservation (spend) spread over many accounts, the same on one hot household account,
// and ReservePoints latency at that load; framed by pgbench on the same machine in the same run.
import { randomUUID } from 'crypto';
import { Metadata } from '@grpc/grpc-js';
import { CITY_ADMIN_SCOPE, cityPeriod } from '@citybase/platform';
import { PointsServiceService, ShortfallPolicy } from '@citybase/contracts/citybase/points/v1/points';
import { grpcClient, spawnService, TestIssuer, uniqueName } from '@citybase/platform/testing';
import { pgbenchBaseline, pgbenchFigure, pgbenchParams, pgbenchReportParams } from './baselines';
import {
  benchDatabase,
  checkpoint,
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
import { parseRoundTrips } from './payment';
import { intFromEnv, percentiles, perSecond, round } from './stats';

/** The points process's PostgreSQL round trips so far, all stages (db_round_trips_total on its /metrics). */
async function roundTrips(httpUrl: string): Promise<number> {
  const res = await fetch(`${httpUrl}/metrics`);
  if (!res.ok) throw new Error(`GET ${httpUrl}/metrics: HTTP ${res.status}`);
  return Object.values(parseRoundTrips(await res.text())).reduce((a, b) => a + b, 0);
}

export interface PointsBenchParams {
  /** Earn+spend scripts (IssuePoints, ReservePoints, ConfirmReservation) spread over `accounts`. */
  scripts: number;
  /** The same on one account. */
  hotScripts: number;
  accounts: number;
  concurrency: number;
  /** Projects (budget nodes) the spread run's accounts are spread over, round robin (default 1). */
  projects: number;
}

export function pointsBenchParams(env: NodeJS.ProcessEnv): PointsBenchParams {
  return {
    scripts: intFromEnv(env, 'BENCH_POINTS_SCRIPTS', 3_000),
    hotScripts: intFromEnv(env, 'BENCH_POINTS_HOT_SCRIPTS', 1_000),
    accounts: intFromEnv(env, 'BENCH_POINTS_ACCOUNTS', 1_000),
    concurrency: intFromEnv(env, 'BENCH_POINTS_CONCURRENCY', 32),
    projects: intFromEnv(env, 'BENCH_POINTS_PROJECTS', 1),
  };
}

/** Each script: 3 transactions (issue, reserve, confirm), one RPC each. */
const RPCS_PER_SCRIPT = 3;
/** Points issued and then reserved and confirmed by a script: its lot is spent whole. */
const POINTS = 50n;

interface RunResult {
  tps: number;
  reserveMs: number[];
}

export async function runPoints(cleanup: Cleanup): Promise<void> {
  const p = pointsBenchParams(process.env);
  const pp = pgbenchParams(process.env);
  const started = Date.now();
  const issuer = await TestIssuer.start();
  cleanup.add('token issuer', () => issuer.stop());
  const { db, synchronousCommit } = await benchDatabase('bench_points', cleanup);
  const points = await spawnService(
    'points',
    {
      DATABASE_URL: db.url,
      KAFKA_TOPIC_PREFIX: `${uniqueName('benchpoints')}.`,
      AUTH_JWKS_URL: issuer.jwksUrl,
      LOG_LEVEL: process.env.BENCH_LOG_LEVEL ?? 'warn',
    },
    profiledSpawn(),
  );
  cleanup.add('points process', () => points.stop());
  await points.ready();

  const operatorId = 'bench-operator';
  const projectId = 'bench-project';
  const period = cityPeriod(new Date());
  // one token per caller for the whole run (the bench measures the service, not token signing)
  const bearer = (token: string) => () => {
    const md = new Metadata();
    md.set('authorization', `Bearer ${token}`);
    return md;
  };
  const admin = grpcClient(
    PointsServiceService,
    points.grpcAddress,
    bearer(
      issuer.token({ scopes: ['points:configure', 'points:budget', CITY_ADMIN_SCOPE], expiresIn: 3600 }),
    ),
  );
  cleanup.add('gRPC admin client', () => Promise.resolve(admin.close()));
  await admin.setProgramme({
    requestId: randomUUID(),
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
  const projects = Array.from({ length: p.projects }, (_, i) => (i === 0 ? projectId : `${projectId}-${i}`));
  for (const node of [
    { operatorId: '', projectId: '' },
    { operatorId, projectId: '' },
    ...projects.map((id) => ({ operatorId, projectId: id })),
  ])
    await admin.setBudget({
      requestId: randomUUID(),
      tenancy: { ...node, merchantId: '' },
      period,
      // the city and the operator above every project's 10^12
      allotted: node.projectId === '' ? 10n ** 15n : 10n ** 12n,
    });
  admin.close();

  const client = grpcClient(
    PointsServiceService,
    points.grpcAddress,
    bearer(
      issuer.token({
        scopes: ['points:read', 'points:write', 'points:issue'],
        operators: [operatorId],
        sub: 'bench-points-app',
        expiresIn: 3600,
      }),
    ),
  );
  cleanup.add('gRPC client', () => Promise.resolve(client.close()));
  const tenancy = { operatorId, projectId, merchantId: '' };
  /** The project whose budget pays for an account's points: by its number, round robin. */
  const projectOf = (holderId: string) => projects[Number(/\d+$/.exec(holderId)?.[0] ?? 0) % projects.length];

  /** `scripts` earn+spend scripts, `concurrency` at a time, holder by script number. */
  const run = async (scripts: number, holderOf: (i: number) => string): Promise<RunResult> => {
    const reserveMs: number[] = [];
    let next = 0;
    const t0 = now();
    await Promise.all(
      Array.from({ length: p.concurrency }, async () => {
        for (let i = next++; i < scripts; i = next++) {
          const holderId = holderOf(i);
          await client.issuePoints({
            requestId: randomUUID(),
            tenancy: { ...tenancy, projectId: projectOf(holderId) ?? projectId },
            holderId,
            points: POINTS,
            reason: 'BENCH',
            expiresAt: undefined,
          });
          const r0 = now();
          const { reservation } = await client.reservePoints({
            requestId: randomUUID(),
            redeemedAt: undefined,
            tenancy: { ...tenancy, merchantId: 'bench-merchant' },
            holderId,
            points: POINTS,
            reference: `order-${i}`,
            ttlSeconds: 600,
          });
          reserveMs.push(now() - r0);
          await client.confirmReservation({
            requestId: randomUUID(),
            tenancy,
            reservationId: reservation?.reservationId ?? '',
          });
        }
      }),
    );
    return { tps: perSecond(scripts * RPCS_PER_SCRIPT, now() - t0), reserveMs };
  };

  note(`warm-up: ${Math.min(300, p.scripts)} scripts`);
  await run(Math.min(300, p.scripts), (i) => `warm-${i % p.accounts}`);
  await checkpoint();
  note(
    `spread: ${p.scripts} scripts (IssuePoints, ReservePoints, ConfirmReservation) over ${p.accounts} accounts, ${p.concurrency} in flight`,
  );
  const tripsBefore = await roundTrips(points.httpUrl);
  const spread = await run(p.scripts, (i) => `resident-${i % p.accounts}`);
  const tripsPerRpc = ((await roundTrips(points.httpUrl)) - tripsBefore) / (p.scripts * RPCS_PER_SCRIPT);
  await checkpoint();
  note(`hot: ${p.hotScripts} scripts on one household account, ${p.concurrency} in flight`);
  const hot = await run(p.hotScripts, () => 'household-hot');
  const spawned = { points: processUsage(points.proc.pid!) };
  client.close();
  await points.stop();

  await checkpoint();
  note('baseline: pgbench');
  const pg = await pgbenchBaseline(pp, cleanup);
  const [reserveP50, reserveP99] = percentiles(spread.reserveMs, [50, 99]);
  const [hotReserveP50, hotReserveP99] = percentiles(hot.reserveMs, [50, 99]);
  const shape = `each script IssuePoints ${POINTS} then ReservePoints ${POINTS} and ConfirmReservation of it, one RPC = one transaction under the account's row lock, counted as ${RPCS_PER_SCRIPT} transactions; ${p.concurrency} scripts in flight over gRPC to the points process; synchronous_commit=${synchronousCommit}`;
  const figures: Figure[] = [
    {
      name: 'spread_tps',
      value: round(spread.tps, 1),
      unit: 'transactions/s',
      how: `${p.scripts} scripts over ${p.accounts} accounts, issued from ${p.projects} project budget(s); ${shape}`,
    },
    {
      name: 'hot_tps',
      value: round(hot.tps, 1),
      unit: 'transactions/s',
      how: `${p.hotScripts} scripts all on one (household) account; ${shape}`,
    },
    {
      name: 'reserve_p50_ms',
      value: round(reserveP50, 2),
      unit: 'ms',
      how: 'ReservePoints over gRPC during the spread run, median',
    },
    {
      name: 'reserve_p99_ms',
      value: round(reserveP99, 2),
      unit: 'ms',
      how: 'ReservePoints over gRPC during the spread run, 99th percentile',
    },
    {
      name: 'round_trips_per_rpc',
      value: round(tripsPerRpc, 2),
      unit: 'queries/transaction',
      how: 'PostgreSQL round trips of the points process per transaction during the spread run (its db_round_trips_total before and after, all stages: RPCs, outbox relay, jobs)',
    },
    pgbenchFigure(pp, pg),
    {
      name: 'spread_to_pgbench',
      value: round(spread.tps / pg.tps, 3),
      unit: 'ratio',
      how: 'spread_tps / baseline_pgbench_tps (target >= 0.5)',
    },
    {
      name: 'hot_to_pgbench',
      value: round(hot.tps / pg.tps, 3),
      unit: 'ratio',
      how: 'hot_tps / baseline_pgbench_tps (target: hot_tps >= 500/s)',
    },
  ];
  printBenchmarkFigures('points', started, figures);
  process.stdout.write(
    [
      '',
      'diagnostics (not in the JSON):',
      `  hot ReservePoints p50 ${round(hotReserveP50, 2)} ms, p99 ${round(hotReserveP99, 2)} ms`,
      '',
    ].join('\n'),
  );
  await writeBenchReport(
    'points',
    started,
    figureValues(figures),
    { ...p, synchronous_commit: synchronousCommit, ...pgbenchReportParams(pp) },
    spawned,
  );
}
