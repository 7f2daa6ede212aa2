import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { Client } from 'pg';
import { CITY_ADMIN_SCOPE, cityPeriod, toTimestamp } from '@citybase/platform';
import { PointsEvents } from '@citybase/contracts/events';
import {
  PointsServiceService,
  ReservationStatus,
  ShortfallPolicy,
} from '@citybase/contracts/citybase/points/v1/points';
import {
  createTestDatabase,
  errorCode,
  grpcClient,
  kafkaTestPrefix,
  REPO_ROOT,
  ServiceProcess,
  TestDatabase,
  TestIssuer,
  waitFor,
} from '@citybase/platform/testing';
import { callWhileRestarting, spawnReadyService } from '../src';

/**
 * The points service's own invariant check (services/points/src/invariants.ts, the one every points
 * suite runs after each test), run as an operator would: `admin.js check-invariants`.
 */
function pointsInvariantCheck(url: string): { ok: boolean; violations: string[]; status: number | null } {
  const run = spawnSync(
    process.execPath,
    [join(REPO_ROOT, 'services', 'points', 'dist', 'admin.js'), 'check-invariants', '--database', url],
    { encoding: 'utf8' },
  );
  if (!run.stdout) throw new Error(`admin.js check-invariants printed nothing: ${run.stderr}`);
  return { ...(JSON.parse(run.stdout) as { ok: boolean; violations: string[] }), status: run.status };
}

type Answer = { ok: string } | { refused: string };

/**
 * Points under a crash: 12 workers run 400 scripts (IssuePoints to one of 60 holders, ReservePoints
 * of part of it with a TTL of 1-20 s, then ConfirmReservation or CancelReservation) while the hold
 * expiry and lot expiry jobs have work due (lots made to lapse during the run, reservations whose
 * deadlines pass), and the points process is SIGKILLed in the middle and started again. Clients
 * retry calls that failed with the same request id. Afterwards: every request, sent once more with
 * its request id, answers what it answered first (its effect applied once); one lot per issue, one
 * reservation per reserve; the outbox holds each event once, exactly the events the database says
 * (one PointsIssued per lot, one PointsReserved per reservation, one PointsRedeemed per confirmed
 * and one PointsReservationReleased per cancelled or expired one, one PointsExpired per expiry
 * entry), all of them published; and checkPointsInvariants holds.
 */
describe('points: SIGKILL during issue, reserve, confirm and cancel with expiry jobs due', () => {
  const SCRIPTS = 400;
  const HOLDERS = 60;
  let issuer: TestIssuer;
  let db: TestDatabase;
  let svc: ServiceProcess | undefined;
  const prefix = kafkaTestPrefix('pointskill');
  const operatorId = 'op-points-chaos';
  const projectId = 'proj-points-chaos';
  const period = cityPeriod(new Date());

  const start = () =>
    spawnReadyService('points', {
      db,
      kafkaPrefix: prefix,
      issuer,
      env: {
        POINTS_HOLD_EXPIRY_INTERVAL_MS: '300',
        POINTS_LOT_EXPIRY_INTERVAL_MS: '300',
        POINTS_RELEASE_INTERVAL_MS: '300',
      },
    });
  const admin = () => issuer.metadata({ scopes: ['points:configure', 'points:budget', CITY_ADMIN_SCOPE] });
  const app = () =>
    issuer.metadata({
      scopes: ['points:read', 'points:write', 'points:issue'],
      operators: [operatorId],
      sub: 'points-chaos-app',
    });

  beforeAll(async () => {
    issuer = await TestIssuer.start();
    db = await createTestDatabase('e2e_pointskill');
    svc = await start();
    const c = grpcClient(PointsServiceService, svc.grpcAddress, admin);
    try {
      await c.setProgramme({
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
      for (const tenancy of [
        { operatorId: '', projectId: '' },
        { operatorId, projectId: '' },
        { operatorId, projectId },
      ])
        await c.setBudget({
          requestId: randomUUID(),
          tenancy: { ...tenancy, merchantId: '' },
          period,
          allotted: 10n ** 12n,
        });
    } finally {
      c.close();
    }
  }, 120_000);

  afterAll(async () => {
    await svc?.stop('SIGKILL');
    await db?.drop();
    await issuer?.stop();
  });

  it('applies every request once, answers retries as at first, and its events equal its database', async () => {
    let address = svc!.grpcAddress;
    const tenancy = { operatorId, projectId, merchantId: '' };
    const open = () => grpcClient(PointsServiceService, address, app);
    type C = ReturnType<typeof open>;
    let retries = 0;
    /** A call until it has a definite answer (made again, same request, while the process is down). */
    const definite = async (call: (c: C) => Promise<string>): Promise<Answer> => {
      try {
        return { ok: await callWhileRestarting(open, call, { onRetry: () => (retries += 1) }) };
      } catch (err) {
        const code = errorCode(err as never);
        if (!code) throw err;
        return { refused: code };
      }
    };

    // lots that lapse during the run: the lot expiry job has work while the process is killed
    const seeded: string[] = [];
    {
      const c = open();
      try {
        for (let i = 0; i < 120; i++) {
          const res = await c.issuePoints({
            requestId: randomUUID(),
            tenancy,
            holderId: `holder-${i % HOLDERS}`,
            points: 50n,
            reason: 'CHAOS_SEED',
            expiresAt: undefined,
          });
          seeded.push(res.lotId);
        }
      } finally {
        c.close();
      }
      const pg = new Client({ connectionString: db.url });
      await pg.connect();
      try {
        // due one after another over the next 8 s
        await pg.query(
          `UPDATE lots SET expires_at = now() + (random() * interval '8 seconds') WHERE lot_id = ANY($1::uuid[])`,
          [seeded],
        );
      } finally {
        await pg.end();
      }
    }

    const scripts = Array.from({ length: SCRIPTS }, (_, i) => ({
      holderId: `holder-${(i * 7) % HOLDERS}`,
      issue: {
        requestId: randomUUID(),
        tenancy,
        holderId: `holder-${(i * 7) % HOLDERS}`,
        points: BigInt(100 + (i % 37)),
        reason: 'CHAOS',
        expiresAt: toTimestamp(new Date(Date.now() + (30 + i) * 86_400_000)),
      },
      reserve: {
        requestId: randomUUID(),
        tenancy: { ...tenancy, merchantId: 'm-chaos' },
        holderId: `holder-${(i * 7) % HOLDERS}`,
        points: BigInt(40 + (i % 50)),
        reference: `order-${i}`,
        // some deadlines pass during the run: the hold expiry job ends them
        ttlSeconds: i % 5 === 0 ? 1 + (i % 3) : 20,
        redeemedAt: undefined,
      },
      end: { requestId: randomUUID(), tenancy, reservationId: '' },
      confirm: i % 3 !== 0,
      answers: {} as { issue?: Answer; reserve?: Answer; end?: Answer },
    }));

    let next = 0;
    let killed = false;
    const worker = async () => {
      for (let i = next++; i < SCRIPTS; i = next++) {
        if (i === Math.floor(SCRIPTS * 0.4) && !killed) {
          killed = true;
          await svc!.stop('SIGKILL');
          svc = await start();
          address = svc.grpcAddress;
        }
        const s = scripts[i]!;
        s.answers.issue = await definite(async (c) => (await c.issuePoints(s.issue)).lotId);
        s.answers.reserve = await definite(
          async (c) => (await c.reservePoints(s.reserve)).reservation?.reservationId ?? '',
        );
        if (!('ok' in s.answers.reserve)) continue;
        s.end.reservationId = s.answers.reserve.ok;
        if (i % 4 === 0) await new Promise((r) => setTimeout(r, 1_500)); // some deadlines pass first
        s.answers.end = await definite(async (c) => {
          const res = s.confirm ? await c.confirmReservation(s.end) : await c.cancelReservation(s.end);
          return ReservationStatus[res.reservation?.status ?? 0];
        });
      }
    };
    await Promise.all(Array.from({ length: 12 }, worker));
    expect(killed).toBe(true);

    // every script had a definite answer: issues and reserves succeed (each reserve is covered by
    // its own issue), ends are confirmed / cancelled or, past the deadline, RESERVATION_EXPIRED
    expect(scripts.filter((s) => !s.answers.issue || !('ok' in s.answers.issue))).toEqual([]);
    expect(scripts.filter((s) => !s.answers.reserve || !('ok' in s.answers.reserve))).toEqual([]);
    const endAnswers = new Map<string, number>();
    for (const s of scripts) {
      const a = s.answers.end;
      const key = !a ? 'none' : 'ok' in a ? a.ok : a.refused;
      endAnswers.set(key, (endAnswers.get(key) ?? 0) + 1);
    }
    expect([...endAnswers.keys()].sort()).toEqual(
      expect.arrayContaining(['RESERVATION_STATUS_CANCELLED', 'RESERVATION_STATUS_CONFIRMED']),
    );
    expect(
      [...endAnswers.keys()].filter(
        (k) =>
          !['RESERVATION_STATUS_CANCELLED', 'RESERVATION_STATUS_CONFIRMED', 'RESERVATION_EXPIRED'].includes(
            k,
          ),
      ),
    ).toEqual([]);

    // every request once more with its request id: the answer it gave first
    for (const s of scripts) {
      expect([s.issue.requestId, await definite(async (c) => (await c.issuePoints(s.issue)).lotId)]).toEqual([
        s.issue.requestId,
        s.answers.issue,
      ]);
      expect([
        s.reserve.requestId,
        await definite(async (c) => (await c.reservePoints(s.reserve)).reservation?.reservationId ?? ''),
      ]).toEqual([s.reserve.requestId, s.answers.reserve]);
      expect([
        s.end.requestId,
        await definite(async (c) => {
          const res = s.confirm ? await c.confirmReservation(s.end) : await c.cancelReservation(s.end);
          return ReservationStatus[res.reservation?.status ?? 0];
        }),
      ]).toEqual([s.end.requestId, s.answers.end]);
    }

    const pg = new Client({ connectionString: db.url });
    await pg.connect();
    try {
      // the jobs finish what is due: no held reservation past its deadline, no lapsed lot with free units
      await waitFor(
        'expiry jobs done',
        async () => {
          const { rows } = await pg.query<{ n: number }>(
            `SELECT (SELECT count(*) FROM reservations WHERE status = 1 AND expires_at <= now())
                  + (SELECT count(*) FROM lots WHERE expires_at <= now() AND remaining > held) AS n`,
          );
          return Number(rows[0]!.n) === 0 || undefined;
        },
        60_000,
        200,
      );

      // one lot per issue, one reservation per reserve, whatever was retried
      const { rows: lots } = await pg.query<{ source_ref: string; n: number }>(
        `SELECT source_ref, count(*)::int AS n FROM lots GROUP BY 1`,
      );
      expect(lots.filter((l) => l.n !== 1)).toEqual([]);
      expect(lots).toHaveLength(SCRIPTS + seeded.length);
      const { rows: reservations } = await pg.query<{ reservation_id: string; status: number }>(
        `SELECT reservation_id, status FROM reservations`,
      );
      expect(reservations).toHaveLength(SCRIPTS);
      const byStatus = (st: ReservationStatus) =>
        new Set(reservations.filter((r) => r.status === st).map((r) => r.reservation_id));
      expect(byStatus(ReservationStatus.RESERVATION_STATUS_HELD).size).toBe(0);
      const expiredLots = (
        await pg.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM lots WHERE lot_id = ANY($1::uuid[]) AND remaining < amount`,
          [seeded],
        )
      ).rows[0]!.n;

      // everything committed is in the outbox once, and published
      await waitFor(
        'outbox published',
        async () =>
          (await pg.query<{ n: number }>(`SELECT count(*)::int AS n FROM outbox WHERE published_at IS NULL`))
            .rows[0]!.n === 0 || undefined,
        60_000,
        200,
      );
      const events = async <K extends keyof typeof PointsEvents>(kind: K) => {
        const type = PointsEvents[kind];
        const { rows } = await pg.query<{ payload: Buffer }>(
          `SELECT payload FROM outbox WHERE event_type = $1`,
          [type.type],
        );
        return rows.map(
          (r) => type.codec.decode(r.payload) as ReturnType<(typeof PointsEvents)[K]['codec']['decode']>,
        );
      };
      const once = (ids: string[]) => {
        const seen = new Map<string, number>();
        for (const id of ids) seen.set(id, (seen.get(id) ?? 0) + 1);
        return [...seen].filter(([, n]) => n !== 1);
      };
      const sorted = (xs: Iterable<string>) => [...xs].sort();

      const issued = (await events('PointsIssued')).map((e) => e.lotId);
      expect(once(issued)).toEqual([]);
      expect(sorted(issued)).toEqual(
        sorted((await pg.query<{ lot_id: string }>(`SELECT lot_id FROM lots`)).rows.map((r) => r.lot_id)),
      );
      const reserved = (await events('PointsReserved')).map((e) => e.reservationId);
      expect(once(reserved)).toEqual([]);
      expect(sorted(reserved)).toEqual(sorted(reservations.map((r) => r.reservation_id)));
      const redeemed = (await events('PointsRedeemed')).map((e) => e.reservationId);
      expect(once(redeemed)).toEqual([]);
      expect(sorted(redeemed)).toEqual(sorted(byStatus(ReservationStatus.RESERVATION_STATUS_CONFIRMED)));
      const released = await events('PointsReservationReleased');
      expect(once(released.map((e) => e.reservationId))).toEqual([]);
      expect(sorted(released.map((e) => `${e.reservationId}/${e.status}`))).toEqual(
        sorted(
          reservations
            .filter((r) => r.status !== ReservationStatus.RESERVATION_STATUS_CONFIRMED)
            .map((r) => `${r.reservation_id}/${r.status}`),
        ),
      );
      // one PointsExpired per EXPIRED entry, with the same units per lot
      const expired = await events('PointsExpired');
      const { rows: expiryEntries } = await pg.query<{ lot_id: string; units: string }>(
        `SELECT el.lot_id, (-el.remaining_delta)::text AS units
           FROM points_entries e JOIN entry_lots el USING (entry_id) WHERE e.kind = 11`,
      );
      expect(sorted(expired.flatMap((e) => e.lots.map((l) => `${l.lotId}/${l.points}`)))).toEqual(
        sorted(expiryEntries.map((r) => `${r.lot_id}/${r.units}`)),
      );
      expect(expired.length).toBe(
        (await pg.query<{ n: number }>(`SELECT count(*)::int AS n FROM points_entries WHERE kind = 11`))
          .rows[0]!.n,
      );

      expect(pointsInvariantCheck(db.url)).toEqual({ ok: true, violations: [], status: 0 });
      console.log(
        `points SIGKILL at script #${Math.floor(SCRIPTS * 0.4)}; ${retries} client retries; ` +
          `ends ${JSON.stringify(Object.fromEntries(endAnswers))}; ${byStatus(ReservationStatus.RESERVATION_STATUS_EXPIRED).size} holds expired; ` +
          `${expiredLots} seeded lots expired; ${expired.length} PointsExpired; events exact`,
      );
    } finally {
      await pg.end();
    }
  }, 600_000);
});
