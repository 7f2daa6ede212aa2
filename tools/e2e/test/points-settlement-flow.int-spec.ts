import { randomUUID } from 'node:crypto';
import { Client } from 'pg';
import { CITY_ADMIN_SCOPE, cityPeriod } from '@citybase/platform';
import {
  createTestDatabase,
  grpcClient,
  kafkaTestPrefix,
  ServiceProcess,
  TestDatabase,
  TestIssuer,
  waitFor,
} from '@citybase/platform/testing';
import { PointsServiceService } from '@citybase/contracts/citybase/points/v1/points';
import { AccountKind } from '@citybase/contracts/citybase/settlement/v1/settlement';
import { settlementLedgerCheck, spawnReadyService } from '../src';

/**
 * Points and settlement as their own processes on one Kafka namespace: points issued by two
 * issuers of one operator are spent at another operator's merchant; points' relay publishes the
 * events, settlement posts the liability, the clearing obligations and, in its clearing cycle job,
 * settles them between the operators' banks; the ledger check command passes.
 */
describe('points liability and clearing through settlement (real processes)', () => {
  let issuer: TestIssuer;
  let pointsDb: TestDatabase;
  let settlementDb: TestDatabase;
  let points: ServiceProcess | undefined;
  let settlement: ServiceProcess | undefined;
  let ledgerDb: Client;
  const prefix = kafkaTestPrefix('ptsclr');
  const a = 'op-points-a';
  const b = 'op-points-b';
  const at = (operatorId: string, projectId = '', merchantId = '') => ({ operatorId, projectId, merchantId });

  const city = () =>
    issuer.metadata({ scopes: ['points:read', 'points:configure', 'points:budget', CITY_ADMIN_SCOPE] });
  const operatorA = () =>
    issuer.metadata({
      scopes: ['points:read', 'points:write', 'points:issue', 'points:budget'],
      operators: [a],
      sub: 'points-e2e-a',
    });

  /** Debit-positive balance of an account of the settlement ledger (0 when it does not exist). */
  const balance = async (kind: AccountKind, operatorId: string, projectId = '', merchantId = '') => {
    const { rows } = await ledgerDb.query<{ b: string }>(
      `SELECT coalesce(sum(b.balance_minor), 0)::text AS b
         FROM ledger_accounts a JOIN ledger_balances b USING (account_id)
        WHERE a.kind = $1 AND a.operator_id = $2 AND a.project_id = $3 AND a.merchant_id = $4`,
      [kind, operatorId, projectId, merchantId],
    );
    return BigInt(rows[0]!.b);
  };

  beforeAll(async () => {
    issuer = await TestIssuer.start();
    pointsDb = await createTestDatabase('e2e_points_clr');
    settlementDb = await createTestDatabase('e2e_settle_clr');
    [points, settlement] = await Promise.all([
      spawnReadyService('points', { db: pointsDb, kafkaPrefix: prefix, issuer }),
      spawnReadyService('settlement', {
        db: settlementDb,
        kafkaPrefix: prefix,
        issuer,
        env: { SETTLEMENT_POINTS_CLEARING_INTERVAL_MS: '300' },
      }),
    ]);
    ledgerDb = new Client({ connectionString: settlementDb.url });
    await ledgerDb.connect();
  }, 120_000);

  afterAll(async () => {
    await ledgerDb?.end();
    await points?.stop();
    await settlement?.stop();
    await pointsDb?.drop();
    await settlementDb?.drop();
    await issuer?.stop();
  });

  it("points issued by an operator and its project, spent at another operator's merchant, are posted and cleared", async () => {
    const admin = grpcClient(PointsServiceService, points!.grpcAddress, city);
    const back = grpcClient(PointsServiceService, points!.grpcAddress, operatorA);
    try {
      const period = cityPeriod(new Date());
      await admin.setProgramme({
        requestId: randomUUID(),
        programme: {
          tenancy: at(a),
          pointValue: { currency: 'CNY', amountMinor: 2n },
          lotLifetimeDays: 365,
          refundWindowHours: 0,
          shortfallPolicy: 1,
          expiryNoticeDays: 0,
          tiers: [],
          tierWindowDays: 365,
          updatedAt: undefined,
        },
      });
      await admin.setBudget({ requestId: randomUUID(), tenancy: at(''), period, allotted: 10_000n });
      await admin.setBudget({ requestId: randomUUID(), tenancy: at(a), period, allotted: 10_000n });
      await back.setBudget({ requestId: randomUUID(), tenancy: at(a, 'pa'), period, allotted: 1_000n });
      const issue = (projectId: string, n: bigint) =>
        back.issuePoints({
          requestId: randomUUID(),
          tenancy: at(a, projectId),
          holderId: 'resident-e2e',
          points: n,
          reason: 'WELCOME',
          expiresAt: undefined,
        });
      await issue('pa', 100n); // issued first: spent first
      await issue('', 50n);
      const { reservation } = await back.reservePoints({
        requestId: randomUUID(),
        tenancy: at(a),
        holderId: 'resident-e2e',
        points: 120n,
        reference: 'mall-checkout',
        ttlSeconds: 0,
        redeemedAt: at(b, 'mall', 'shop-9'),
      });
      await back.confirmReservation({
        requestId: randomUUID(),
        tenancy: at(a),
        reservationId: reservation!.reservationId,
      });
    } finally {
      admin.close();
      back.close();
    }
    // 100 points of pa and 20 of a, at 2 fen: b's merchant is owed 240, a's bank pays b's 240
    await waitFor(
      'the clearing cycle settled both obligations',
      async () => {
        const { rows } = await ledgerDb.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM points_clearing_obligations WHERE status = 'settled'`,
        );
        return rows[0]!.n === 2 ? true : undefined;
      },
      60_000,
      100,
    );
    const K = AccountKind;
    expect(await balance(K.ACCOUNT_KIND_MARKETING_SUBSIDY, a, 'pa')).toBe(200n);
    expect(await balance(K.ACCOUNT_KIND_MARKETING_SUBSIDY, a)).toBe(100n);
    expect(await balance(K.ACCOUNT_KIND_POINTS_LIABILITY, a, 'pa')).toBe(0n);
    expect(await balance(K.ACCOUNT_KIND_POINTS_LIABILITY, a)).toBe(-60n); // 30 points outstanding
    expect(await balance(K.ACCOUNT_KIND_MERCHANT_PAYABLE, b, 'mall', 'shop-9')).toBe(-240n);
    for (const [op, project] of [
      [a, ''],
      [a, 'pa'],
      [b, 'mall'],
    ] as const)
      expect(await balance(K.ACCOUNT_KIND_POINTS_CLEARING, op, project)).toBe(0n);
    expect([await balance(K.ACCOUNT_KIND_BANK, a), await balance(K.ACCOUNT_KIND_BANK, b)]).toEqual([
      -240n,
      240n,
    ]);
    expect(settlementLedgerCheck(settlementDb.url)).toEqual({ status: 0, violations: [] });
  }, 120_000);
});
