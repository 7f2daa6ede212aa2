import { status } from '@grpc/grpc-js';
import { uniqueName } from '@citybase/platform/testing';
import { PaymentScenario } from '@citybase/contracts/citybase/payment/v1/payment';
import { EntryKind, HolderKind } from '@citybase/contracts/citybase/points/v1/points';
import {
  errorCode,
  errorField,
  eventsOf,
  grpcError,
  PointsClient,
  POINTS_SCOPES,
  seedBudget,
  seedProgramme,
  replicaParts,
} from './accounts-harness';
import { EarningHarness, startEarningHarness } from './earning-harness';
import { checkPointsInvariants } from '../src/invariants';
import { OPERATOR_SCOPES } from './points-harness';

const FEE = PaymentScenario.PAYMENT_SCENARIO_PROPERTY_FEE;

describe('points households and tiers (in-process, real PostgreSQL and Kafka)', () => {
  let h: EarningHarness;
  let op: string;
  let client: PointsClient;

  const tenancy = () => ({ operatorId: op, projectId: '', merchantId: '' });
  const setMembers = (householdId: string, memberIds: string[], over: Record<string, unknown> = {}) =>
    client.setHouseholdMembers({
      requestId: uniqueName('household'),
      tenancy: tenancy(),
      householdId,
      memberIds,
      ...over,
    });
  const setRule = (pointsPerYuan = 1) =>
    client.setEarningRule({
      requestId: uniqueName('rule'),
      rule: {
        ruleId: '',
        tenancy: tenancy(),
        scenario: FEE,
        pointsPerYuan,
        dailyCap: 0n,
        updatedAt: undefined,
      },
    });
  const pay = (payer: string, amountMinor: bigint) =>
    h.paid({
      tenancy: { operatorId: op, projectId: '', merchantId: 'm-1' },
      payerRef: payer,
      amount: { currency: 'CNY', amountMinor },
    });
  const balance = (holderId: string) => client.getBalance({ tenancy: tenancy(), holderId });
  const memberRows = async () =>
    (
      await h.pool.query<{ household_id: string; member_id: string }>(
        'SELECT household_id, member_id FROM household_members WHERE operator_id = $1 ORDER BY member_id',
        [op],
      )
    ).rows;

  beforeAll(async () => {
    h = await startEarningHarness();
  });
  afterAll(() => h?.stop());
  beforeEach(async () => {
    op = uniqueName('op');
    client = h.clientOf({ operators: [op] }, [...OPERATOR_SCOPES, ...POINTS_SCOPES]);
  });
  afterEach(async () => {
    expect(await checkPointsInvariants(h.pool)).toEqual([]);
  });

  describe('households', () => {
    it("a member's payment earns into the household's account, attributed to the member", async () => {
      await seedProgramme(h, op);
      await seedBudget(h, op, 100_000n);
      await setRule(2);
      const [home, alice, bob, carol] = ['home', 'alice', 'bob', 'carol'].map((n) => uniqueName(n));
      const set = await setMembers(home, [bob, alice]);
      expect(set).toEqual({ householdId: home, memberIds: [alice, bob].sort() });
      const a = await pay(alice, 10_000n); // 200
      const b = await pay(bob, 5_000n); // 100
      const c = await pay(carol, 1_000n); // 20: not a member, her own account
      expect(await balance(home)).toMatchObject({
        available: 300n,
        holderKind: HolderKind.HOLDER_KIND_HOUSEHOLD,
      });
      expect((await balance(alice)).available).toBe(0n);
      expect((await balance(carol)).available).toBe(20n);
      const { lots } = await client.listLots({
        tenancy: tenancy(),
        holderId: home,
        includeEmpty: false,
        page: undefined,
      });
      expect(lots.map((l) => [l.sourceRef, l.memberId, l.amount]).sort()).toEqual(
        [
          [a.paymentId, alice, 200n],
          [b.paymentId, bob, 100n],
        ].sort(),
      );
      const { entries } = await client.listHistory({
        tenancy: tenancy(),
        holderId: home,
        memberId: '',
        page: undefined,
      });
      expect(
        entries
          .filter((e) => e.kind === EntryKind.ENTRY_KIND_EARNED)
          .map((e) => [e.reference, e.memberId])
          .sort(),
      ).toEqual(
        [
          [a.paymentId, alice],
          [b.paymentId, bob],
        ].sort(),
      );
      // what one member earned for the household: ListHistory filtered by member
      const ofAlice = await client.listHistory({
        tenancy: tenancy(),
        holderId: home,
        memberId: alice,
        page: undefined,
      });
      expect(ofAlice.entries.map((e) => [e.kind, e.reference, e.availableDelta])).toEqual([
        [EntryKind.ENTRY_KIND_EARNED, a.paymentId, 200n],
      ]);
      const badMember = await grpcError(
        client.listHistory({ tenancy: tenancy(), holderId: home, memberId: 'not a member', page: undefined }),
      );
      expect([badMember.code, errorField(badMember)]).toEqual([status.INVALID_ARGUMENT, 'member_id']);
      const earned = (await eventsOf(h.pool, 'PointsEarned')).filter((e) =>
        [a.paymentId, b.paymentId, c.paymentId].includes(e.paymentId),
      );
      expect(earned.map((e) => [e.paymentId, e.holderId, e.memberId]).sort()).toEqual(
        [
          [a.paymentId, home, alice],
          [b.paymentId, home, bob],
          [c.paymentId, carol, ''],
        ].sort(),
      );
      // a refund of a member's payment takes back from the household's account
      await h.refunded(a, 10_000n);
      expect((await balance(home)).available).toBe(100n);

      // the list is replaced: bob leaves, carol joins; bob earns for himself again
      expect((await setMembers(home, [carol])).memberIds).toEqual([carol]);
      await pay(bob, 1_000n);
      expect((await balance(bob)).available).toBe(20n);
      expect(await memberRows()).toEqual([{ household_id: home, member_id: carol }]);
      // the same request again answers the members as they are now, and changes nothing
      const requestId = uniqueName('household');
      await setMembers(home, [alice], { requestId });
      expect(await setMembers(home, [alice], { requestId })).toEqual({
        householdId: home,
        memberIds: [alice],
      });
    });

    it('refuses a user in two households (FAILED_PRECONDITION naming the user), also when both ask at once', async () => {
      await seedProgramme(h, op);
      const [h1, h2, h3, u1, u2] = ['h1', 'h2', 'h3', 'u1', 'u2'].map((n) => uniqueName(n));
      await setMembers(h1, [u1]);
      await setMembers(h2, [u2]);
      const err = await grpcError(setMembers(h2, [u2, u1]));
      expect([err.code, errorCode(err)]).toEqual([status.FAILED_PRECONDITION, 'MEMBER_IN_OTHER_HOUSEHOLD']);
      expect(err.details).toContain(u1);
      expect(err.details).toContain(h1);
      // nothing changed: h2 keeps u2
      expect(await memberRows()).toEqual(
        [
          { household_id: h1, member_id: u1 },
          { household_id: h2, member_id: u2 },
        ].sort((x, y) => x.member_id.localeCompare(y.member_id)),
      );
      // a household is not a member, a member not a household
      expect(errorCode(await grpcError(setMembers(h3, [h1])))).toBe('MEMBER_IS_HOUSEHOLD');
      expect(errorCode(await grpcError(setMembers(u1, [uniqueName('x')])))).toBe('HOUSEHOLD_IS_MEMBER');
      // 10 households asking for the same new user at once: exactly one gets them
      const wanted = uniqueName('popular');
      const homes = Array.from({ length: 10 }, () => uniqueName('home'));
      const answers = await Promise.allSettled(homes.map((home) => setMembers(home, [wanted])));
      expect(answers.filter((a) => a.status === 'fulfilled')).toHaveLength(1);
      for (const a of answers)
        if (a.status === 'rejected') expect(errorCode(a.reason as never)).toBe('MEMBER_IN_OTHER_HOUSEHOLD');
      expect((await memberRows()).filter((r) => r.member_id === wanted)).toHaveLength(1);
    });

    it('validates SetHouseholdMembers naming the field, and refuses other tenancies, writing nothing', async () => {
      await seedProgramme(h, op);
      const home = uniqueName('home');
      const many = Array.from({ length: 21 }, (_, i) => `m-${i}`);
      // thunks: a call made only when its turn comes, so no rejection waits unhandled
      const cases: [() => Promise<unknown>, string][] = [
        [() => setMembers(home, ['a'], { requestId: '' }), 'request_id'],
        [
          () => setMembers(home, ['a'], { tenancy: { operatorId: '', projectId: '', merchantId: '' } }),
          'tenancy.operator_id',
        ],
        [() => setMembers('', ['a']), 'household_id'],
        [() => setMembers('bad home', ['a']), 'household_id'],
        [() => setMembers(home, many), 'member_ids'],
        [() => setMembers(home, ['a', '']), 'member_ids[1]'],
        [() => setMembers(home, ['a', 'b c']), 'member_ids[1]'],
        [() => setMembers(home, ['a', 'a']), 'member_ids[1]'],
        [() => setMembers(home, [home]), 'member_ids[0]'],
      ];
      for (const [call, field] of cases) {
        const err = await grpcError(call());
        expect([err.code, errorField(err), field]).toEqual([status.INVALID_ARGUMENT, field, field]);
      }
      const other = h.clientOf({ operators: [uniqueName('op')] }, POINTS_SCOPES);
      const denied = await grpcError(
        other.setHouseholdMembers({
          requestId: uniqueName('r'),
          tenancy: tenancy(),
          householdId: home,
          memberIds: ['a'],
        }),
      );
      expect([denied.code, errorCode(denied)]).toEqual([status.PERMISSION_DENIED, 'TENANCY_FORBIDDEN']);
      expect(await memberRows()).toEqual([]);
      const { rows } = await h.pool.query('SELECT 1 FROM accounts WHERE operator_id = $1', [op]);
      expect(rows).toHaveLength(0);
      // 20 members are fine
      expect((await setMembers(home, many.slice(0, 20))).memberIds).toHaveLength(20);
    });
  });

  describe('tiers', () => {
    const tiers = [
      { name: 'BASIC', threshold: 0n, multiplierPermille: 1000 },
      { name: 'SILVER', threshold: 300n, multiplierPermille: 1000 },
      { name: 'GOLD', threshold: 1000n, multiplierPermille: 1500 },
    ];
    const tierEvents = async (holderId: string) =>
      (await eventsOf(h.pool, 'TierChanged'))
        .filter((e) => e.holderId === holderId)
        .map((e) => [e.fromTier, e.toTier]);
    const jobs = () => replicaParts(h).tiers();

    it('moves up after earnings, and down by the tier job once the earnings leave the window, each change once', async () => {
      await seedProgramme(h, op, { tiers, tierWindowDays: 30 });
      await seedBudget(h, op, 1_000_000n);
      await setRule(1);
      const u = uniqueName('u');
      // before any earning: the first tier
      expect((await balance(u)).tier).toBe('BASIC');
      const first = await pay(u, 40_000n); // 400: SILVER
      expect((await balance(u)).tier).toBe('SILVER');
      const second = await pay(u, 70_000n); // 1100: GOLD
      expect((await balance(u)).tier).toBe('GOLD');
      const third = await pay(u, 10_000n); // 100 at GOLD's 1.5x: 150
      const { rows } = await h.pool.query<{ points: bigint }>(
        'SELECT points FROM earnings WHERE payment_id = $1',
        [third.paymentId],
      );
      expect(rows[0]?.points).toBe(150n);
      expect(await tierEvents(u)).toEqual([
        ['BASIC', 'SILVER'],
        ['SILVER', 'GOLD'],
      ]);
      // a job pass now changes nothing: the earnings are in the window
      await jobs().reviewTiers('00000000-0000-0000-0000-000000000000', 10_000);
      expect((await balance(u)).tier).toBe('GOLD');

      // time passes: the first two payments fall out of the 30-day window (rolling 150)
      await h.pool.query(
        `UPDATE earnings SET paid_at = paid_at - interval '31 days' WHERE payment_id = ANY($1::text[])`,
        [[first.paymentId, second.paymentId]],
      );
      // an earning never moves an account down
      await pay(u, 100n);
      expect((await balance(u)).tier).toBe('GOLD');
      // two job passes at once (two replicas): down to BASIC, once
      const nil = '00000000-0000-0000-0000-000000000000';
      await Promise.all([jobs().reviewTiers(nil, 10_000), jobs().reviewTiers(nil, 10_000)]);
      await jobs().reviewTiers(nil, 10_000);
      expect((await balance(u)).tier).toBe('BASIC');
      expect(await tierEvents(u)).toEqual([
        ['BASIC', 'SILVER'],
        ['SILVER', 'GOLD'],
        ['GOLD', 'BASIC'],
      ]);
      // at BASIC again the multiplier is 1x
      const fifth = await pay(u, 10_000n);
      const again = await h.pool.query<{ points: bigint }>(
        'SELECT points FROM earnings WHERE payment_id = $1',
        [fifth.paymentId],
      );
      expect(again.rows[0]?.points).toBe(100n);
    });

    it('rolling earnings are net of refunds: a refunded payment does not keep its tier at the next job pass', async () => {
      await seedProgramme(h, op, { tiers, tierWindowDays: 30 });
      await seedBudget(h, op, 1_000_000n);
      await setRule(1);
      const u = uniqueName('u');
      const big = await pay(u, 120_000n); // 1200: GOLD
      expect((await balance(u)).tier).toBe('GOLD');
      await h.refunded(big, 100_000n); // 1000 taken back: rolling 200
      await jobs().reviewTiers('00000000-0000-0000-0000-000000000000', 10_000);
      expect((await balance(u)).tier).toBe('BASIC');
      expect(await tierEvents(u)).toEqual([
        ['BASIC', 'GOLD'],
        ['GOLD', 'BASIC'],
      ]);
    });
  });
});
