import { Pool } from 'pg';
import { createLogger, enqueue, Mutations, type Outbox, toTimestamp } from '@citybase/platform';
import {
  createTestDatabase,
  grpcClient,
  kafkaTestPrefix,
  routeProjectToSandbox,
  SandboxChannelProcess,
  ServiceProcess,
  spawnSandboxChannel,
  spawnService,
  startTokenServiceFake,
  TestDatabase,
  TestIssuer,
  TokenServiceFake,
  uniqueName,
  waitFor,
} from '@citybase/platform/testing';
import {
  GroupDeal,
  GroupDealStatus,
  ParticipantStatus,
} from '@citybase/contracts/citybase/marketing/v1/marketing';
import { PaymentServiceService } from '@citybase/contracts/citybase/payment/v1/payment';
import { marketingConfig } from '../src/config';
import { DealPorts } from '../src/group-deals/group-deals.ports';
import { GroupDealsService } from '../src/group-deals/group-deals.service';
import {
  ALL_MARKETING_SCOPES,
  errorCode,
  errorField,
  eventsOf,
  grpcError,
  MarketingClient,
  MarketingHarness,
  rowCounts,
  startMarketingHarness,
  status,
} from './marketing-harness';

/**
 * Group buying against the real payment and settlement services (processes, from their built
 * dist), a real sandbox channel and Kafka; marketing in-process, authenticating to them as its own
 * client through a token service standing in for identity (libs/platform outbound). The deals job
 * runs here on demand (its interval is long): `replica()` is another replica's GroupDealsService
 * on the same database, so "the job twice at once" is two replicas.
 */

const OP = 'op-gd';
const PROJECT = 'p-gd';
const MERCHANT = 'm-gd';
const PRICE = 1_000n;
const SECRET = 'marketing-secret';
const { PARTICIPANT_STATUS_PAID: PAID, PARTICIPANT_STATUS_PENDING: PENDING } = ParticipantStatus;
const {
  PARTICIPANT_STATUS_REFUNDED: REFUNDED,
  PARTICIPANT_STATUS_RELEASED: RELEASED,
  PARTICIPANT_STATUS_WITHDRAWN: WITHDRAWN,
} = ParticipantStatus;

describe('marketing: group buying with payment and settlement', () => {
  let issuer: TestIssuer;
  let identity: TokenServiceFake;
  let sandbox: SandboxChannelProcess;
  const dbs: TestDatabase[] = [];
  const procs: ServiceProcess[] = [];
  let payment: ServiceProcess;
  let settlement: ServiceProcess;
  let paymentDb: Pool;
  let h: MarketingHarness;
  let merchant: MarketingClient;
  let resident: MarketingClient;
  const replicas: { ports: DealPorts; service: GroupDealsService }[] = [];

  beforeAll(async () => {
    const prefix = kafkaTestPrefix('groupdeals');
    issuer = await TestIssuer.start();
    sandbox = await spawnSandboxChannel();
    for (const name of ['payment', 'settlement']) {
      const db = await createTestDatabase(`gd_${name}`);
      dbs.push(db);
      const proc = await spawnService(name, {
        DATABASE_URL: db.url,
        KAFKA_TOPIC_PREFIX: prefix,
        AUTH_JWKS_URL: issuer.jwksUrl,
        LOG_LEVEL: 'warn',
      });
      procs.push(proc);
    }
    [payment, settlement] = procs as [ServiceProcess, ServiceProcess];
    await Promise.all(procs.map((p) => p.ready()));
    paymentDb = new Pool({ connectionString: dbs[0]!.url, max: 2 });
    await routeProjectToSandbox({
      paymentAddress: payment.grpcAddress,
      issuer,
      sandbox,
      operatorId: OP,
      projectId: PROJECT,
    });
    identity = await startTokenServiceFake(issuer, {
      'svc-marketing': {
        secret: SECRET,
        scopes: ['payment:write', 'payment:read', 'payment:refund', 'settlement:write', 'city:admin'],
      },
    });
    h = await startMarketingHarness('groupdeals', serviceEnv(prefix), ALL_MARKETING_SCOPES);
    merchant = h.clientOf({ operators: [OP] }, ['marketing:configure', 'marketing:read']);
    resident = h.clientOf({ projects: [PROJECT] }, ['marketing:claim', 'marketing:read']);
  }, 180_000);

  afterAll(async () => {
    for (const r of replicas) r.ports.onModuleDestroy();
    await h?.stop();
    await paymentDb?.end();
    for (const p of procs) await p.stop();
    for (const d of dbs) await d.drop();
    await identity?.stop();
    await sandbox?.stop();
    await issuer?.stop();
  });

  const serviceEnv = (prefix: string): Record<string, string> => ({
    KAFKA_TOPIC_PREFIX: prefix,
    PAYMENT_GRPC_URL: payment.grpcAddress,
    SETTLEMENT_GRPC_URL: settlement.grpcAddress,
    IDENTITY_GRPC_URL: identity.address,
    MARKETING_CLIENT_ID: 'svc-marketing',
    MARKETING_CLIENT_SECRET: SECRET,
    MARKETING_GROUP_HOLD_SECONDS: '600',
    MARKETING_GROUP_JOB_INTERVAL_MS: '600000',
  });

  /** Another replica's GroupDealsService on marketing's database (its own outbound clients). */
  const replica = (): GroupDealsService => {
    const logger = createLogger('marketing-test', 'warn');
    const outbox: Outbox = {
      enqueue: (client, type, payload, opts) =>
        enqueue(client, { city: 'test-city', service: 'marketing' }, type, payload, opts),
    };
    const config = marketingConfig.parse({
      CITY_ID: 'test-city',
      DATABASE_URL: h.db.url,
      ...serviceEnv(h.topicPrefix),
    });
    const ports = new DealPorts(config);
    const service = new GroupDealsService(
      h.pool as never,
      outbox,
      logger,
      config,
      new Mutations(h.pool as never, outbox, logger),
      ports,
    );
    replicas.push({ ports, service });
    return service;
  };

  const deal = (over: Partial<GroupDeal> = {}): GroupDeal => ({
    dealId: '',
    tenancy: { operatorId: OP, projectId: PROJECT, merchantId: MERCHANT },
    title: 'Lychees, 5 kg',
    itemCode: 'LYCHEE-5KG',
    price: { currency: 'CNY', amountMinor: PRICE },
    minParticipants: 2,
    maxParticipants: 3,
    deadline: toTimestamp(new Date(Date.now() + 3_600_000)),
    status: 0,
    paid: 0,
    pending: 0,
    createdAt: undefined,
    endedAt: undefined,
    ...over,
  });
  const create = async (over: Partial<GroupDeal> = {}) =>
    (await merchant.createGroupDeal({ requestId: uniqueName('r'), deal: deal(over) })).deal!;
  const join = (dealId: string, userId: string) =>
    resident.joinGroupDeal({
      requestId: uniqueName('r'),
      tenancy: { operatorId: OP, projectId: PROJECT, merchantId: '' },
      dealId,
      userId,
    });
  const get = (dealId: string) =>
    merchant.getGroupDeal({ tenancy: { operatorId: OP, projectId: '', merchantId: '' }, dealId });
  const statusOf = async (dealId: string, participantId: string) =>
    (await get(dealId)).participants.find((p) => p.participantId === participantId)?.status;
  const waitParticipant = (dealId: string, participantId: string, want: ParticipantStatus) =>
    waitFor(
      `participant ${participantId} ${ParticipantStatus[want]}`,
      async () => ((await statusOf(dealId, participantId)) === want ? true : undefined),
      60_000,
      100,
    );
  /** The deal's deadline passes (moved to now in its row). */
  const pastDeadline = (dealId: string) =>
    h.pool.query(`UPDATE group_deals SET deadline = now() WHERE deal_id = $1`, [dealId]);
  /** Makes due calls until none of the deal's is due (the job's third pass). */
  const callsDone = async (dealId: string, service: GroupDealsService) =>
    waitFor(
      `calls of deal ${dealId} done`,
      async () => {
        await service.makeDueCalls(100);
        await h.pool.query(`UPDATE deal_calls SET next_at = now() WHERE status = 'DUE'`);
        const { rows } = await h.pool.query<{ due: number }>(
          `SELECT count(*)::int AS due FROM deal_calls c JOIN participants p USING (participant_id)
            WHERE p.deal_id = $1 AND c.status = 'DUE'`,
          [dealId],
        );
        return rows[0]?.due === 0 ? true : undefined;
      },
      60_000,
      200,
    );
  /** Refunds per payment at payment (its own table): each asked once. */
  const refundsAtPayment = async (paymentIds: string[]) => {
    const { rows } = await paymentDb.query<{ payment_id: string; n: number; total: string }>(
      `SELECT payment_id::text, count(*)::int AS n, sum(amount_minor)::text AS total FROM refunds
        WHERE payment_id = ANY($1::uuid[]) GROUP BY payment_id ORDER BY payment_id`,
      [paymentIds],
    );
    return rows.map((r) => [r.payment_id, r.n, r.total]);
  };

  it('validates a deal, naming the field; tenancy before anything is read', async () => {
    const before = await rowCounts(h.pool, ['group_deals', 'idempotency_keys']);
    const cases: [Partial<GroupDeal>, string][] = [
      [{ price: { currency: 'CNY', amountMinor: 0n } }, 'deal.price.amount_minor'],
      [{ minParticipants: 1 }, 'deal.min_participants'],
      [{ minParticipants: 5, maxParticipants: 4 }, 'deal.max_participants'],
      [{ maxParticipants: 10_001 }, 'deal.max_participants'],
      [{ deadline: toTimestamp(new Date(Date.now() - 1000)) }, 'deal.deadline'],
      [{ title: '' }, 'deal.title'],
      [{ tenancy: { operatorId: OP, projectId: PROJECT, merchantId: '' } }, 'deal.tenancy.merchant_id'],
    ];
    for (const [over, field] of cases) {
      const err = await grpcError(merchant.createGroupDeal({ requestId: uniqueName('r'), deal: deal(over) }));
      expect([field, err.code, errorField(err)]).toEqual([field, status.INVALID_ARGUMENT, field]);
    }
    const foreign = await grpcError(
      h.clientOf({ operators: ['op-other'] }).createGroupDeal({ requestId: uniqueName('r'), deal: deal() }),
    );
    expect([foreign.code, errorCode(foreign)]).toEqual([status.PERMISSION_DENIED, 'TENANCY_FORBIDDEN']);
    expect(await rowCounts(h.pool, ['group_deals', 'idempotency_keys'])).toEqual(before);
    const d = await create({ minParticipants: 2, maxParticipants: 10_000 });
    expect(d).toMatchObject({ status: GroupDealStatus.GROUP_DEAL_STATUS_OPEN, paid: 0, pending: 0 });
    const other = h.clientOf({ operators: ['op-other'] }, ['marketing:claim', 'marketing:read']);
    const hidden = await grpcError(
      other.joinGroupDeal({
        requestId: uniqueName('r'),
        tenancy: { operatorId: 'op-other', projectId: '', merchantId: '' },
        dealId: d.dealId,
        userId: 'u-x',
      }),
    );
    expect(hidden.code).toBe(status.NOT_FOUND);
    const denied = await grpcError(
      other.getGroupDeal({ tenancy: { operatorId: OP, projectId: '', merchantId: '' }, dealId: d.dealId }),
    );
    expect(denied.code).toBe(status.PERMISSION_DENIED);
    // the project's residents' app reads the deal of its project; naming only the operator is outside its tenancy
    const own = await resident.getGroupDeal({
      tenancy: { operatorId: OP, projectId: PROJECT, merchantId: '' },
      dealId: d.dealId,
    });
    expect(own.deal?.dealId).toBe(d.dealId);
    const wide = await grpcError(
      resident.getGroupDeal({ tenancy: { operatorId: OP, projectId: '', merchantId: '' }, dealId: d.dealId }),
    );
    expect(wide.code).toBe(status.PERMISSION_DENIED);
    expect((await eventsOf(h.pool, 'GroupDealCreated')).map((e) => e.deal?.dealId)).toContain(d.dealId);
  });

  it('joins hold a seat with an open payment; a repeat answers the same participant and payment', async () => {
    const d = await create();
    const req = {
      requestId: uniqueName('r'),
      tenancy: { operatorId: OP, projectId: PROJECT, merchantId: '' },
      dealId: d.dealId,
      userId: 'u-1',
    };
    const first = await resident.joinGroupDeal(req);
    expect(first.participant).toMatchObject({
      userId: 'u-1',
      status: PENDING,
      paymentId: expect.any(String),
    });
    expect(first.participant?.paymentId).not.toBe('');
    expect(first.participant?.payUrl).not.toBe('');
    expect(first.deal).toMatchObject({ pending: 1, paid: 0 });
    expect((await resident.joinGroupDeal(req)).participant).toEqual(first.participant);
    const twice = await grpcError(join(d.dealId, 'u-1'));
    expect([twice.code, errorCode(twice)]).toEqual([status.FAILED_PRECONDITION, 'GROUP_DEAL_ALREADY_JOINED']);
    const payments = grpcClient(PaymentServiceService, payment.grpcAddress, () =>
      issuer.metadata({ scopes: ['payment:read'], operators: [OP] }),
    );
    try {
      const { payment: p } = await payments.getPayment({ paymentId: first.participant!.paymentId });
      expect(p).toMatchObject({
        amount: { currency: 'CNY', amountMinor: PRICE },
        payerRef: 'u-1',
        merchantId: MERCHANT,
      });
    } finally {
      payments.close();
    }
  });

  it('a declined payment releases its seat for the next joiner', async () => {
    const d = await create({ minParticipants: 2, maxParticipants: 2 });
    const a = (await join(d.dealId, 'u-d1')).participant!;
    await join(d.dealId, 'u-d2');
    const full = await grpcError(join(d.dealId, 'u-d3'));
    expect(errorCode(full)).toBe('GROUP_DEAL_FULL');
    await sandbox.pay(a.paymentId, 'fail');
    await waitParticipant(d.dealId, a.participantId, RELEASED);
    expect((await get(d.dealId)).deal).toMatchObject({ pending: 1, paid: 0 });
    expect((await join(d.dealId, 'u-d3')).participant?.status).toBe(PENDING);
    // the released user may join again, as a new participant
    const again = await grpcError(join(d.dealId, 'u-d1'));
    expect(errorCode(again)).toBe('GROUP_DEAL_FULL');
  });

  it('under-filled at the deadline: FAILED, every paid participant refunded exactly once (litemall#159)', async () => {
    const d = await create({ minParticipants: 3, maxParticipants: 5 });
    const joined = [
      (await join(d.dealId, 'u-a')).participant!,
      (await join(d.dealId, 'u-b')).participant!,
      (await join(d.dealId, 'u-c')).participant!,
    ];
    // two pay, one never does
    for (const p of joined.slice(0, 2)) await sandbox.pay(p.paymentId, 'success');
    for (const p of joined.slice(0, 2)) await waitParticipant(d.dealId, p.participantId, PAID);
    await pastDeadline(d.dealId);
    const [r1, r2] = [replica(), replica()];
    await Promise.all([r1.endOverdueDeals(10), r2.endOverdueDeals(10), r1.endOverdueDeals(10)]);
    const ended = await get(d.dealId);
    expect(ended.deal).toMatchObject({
      status: GroupDealStatus.GROUP_DEAL_STATUS_FAILED,
      paid: 0,
      pending: 0,
    });
    expect(ended.participants.map((p) => [p.userId, p.status])).toEqual([
      ['u-a', REFUNDED],
      ['u-b', REFUNDED],
      ['u-c', RELEASED],
    ]);
    expect(
      (await eventsOf(h.pool, 'GroupBuyFailed')).filter((e) => e.deal?.dealId === d.dealId),
    ).toHaveLength(1);
    // both replicas make the refund calls, twice over
    await Promise.all([callsDone(d.dealId, r1), callsDone(d.dealId, r2)]);
    await Promise.all([r1.makeDueCalls(100), r2.makeDueCalls(100)]);
    const paidIds = joined
      .slice(0, 2)
      .map((p) => p.paymentId)
      .sort();
    expect(await refundsAtPayment(paidIds)).toEqual(paidIds.map((id) => [id, 1, PRICE.toString()]));
    expect(await refundsAtPayment([joined[2]!.paymentId])).toEqual([]);
  });

  it("a member's refund after success withdraws it; the group stays SUCCEEDED (CRMEB#27)", async () => {
    const d = await create({ minParticipants: 2, maxParticipants: 3 });
    const a = (await join(d.dealId, 'u-s1')).participant!;
    const b = (await join(d.dealId, 'u-s2')).participant!;
    for (const p of [a, b]) await sandbox.pay(p.paymentId, 'success');
    for (const p of [a, b]) await waitParticipant(d.dealId, p.participantId, PAID);
    await pastDeadline(d.dealId);
    const r = replica();
    await r.endOverdueDeals(10);
    expect((await get(d.dealId)).deal?.status).toBe(GroupDealStatus.GROUP_DEAL_STATUS_SUCCEEDED);
    // settlement completes each order once it holds the payment
    await callsDone(d.dealId, r);
    // the merchant refunds one member in full at payment
    const app = grpcClient(PaymentServiceService, payment.grpcAddress, () =>
      issuer.metadata({ scopes: ['payment:refund'], operators: [OP] }),
    );
    try {
      await app.refundPayment({
        requestId: uniqueName('r'),
        paymentId: a.paymentId,
        amount: { currency: 'CNY', amountMinor: PRICE },
        reason: 'member changed their mind',
      });
    } finally {
      app.close();
    }
    await waitParticipant(d.dealId, a.participantId, WITHDRAWN);
    const after = await get(d.dealId);
    expect(after.deal).toMatchObject({ status: GroupDealStatus.GROUP_DEAL_STATUS_SUCCEEDED, paid: 1 });
    expect(await statusOf(d.dealId, b.participantId)).toBe(PAID);
    expect(
      (await eventsOf(h.pool, 'GroupBuySucceeded')).filter((e) => e.deal?.dealId === d.dealId),
    ).toHaveLength(1);
    expect(
      (await eventsOf(h.pool, 'GroupBuyFailed')).filter((e) => e.deal?.dealId === d.dealId),
    ).toHaveLength(0);
  });

  it('a payment after the seat was released does not oversell: it is refunded (seckill#41)', async () => {
    const d = await create({ minParticipants: 2, maxParticipants: 2 });
    const late = (await join(d.dealId, 'u-late')).participant!;
    // the hold runs out before the payer pays; the job releases the seat
    await h.pool.query(`UPDATE participants SET hold_expires_at = now() WHERE participant_id = $1`, [
      late.participantId,
    ]);
    const r = replica();
    await r.releaseExpiredHolds(100);
    expect(await statusOf(d.dealId, late.participantId)).toBe(RELEASED);
    const x = (await join(d.dealId, 'u-x')).participant!;
    const y = (await join(d.dealId, 'u-y')).participant!;
    for (const p of [x, y]) await sandbox.pay(p.paymentId, 'success');
    for (const p of [x, y]) await waitParticipant(d.dealId, p.participantId, PAID);
    // full: succeeded at once, before the deadline
    expect((await get(d.dealId)).deal).toMatchObject({
      status: GroupDealStatus.GROUP_DEAL_STATUS_SUCCEEDED,
      paid: 2,
      pending: 0,
    });
    await sandbox.pay(late.paymentId, 'success');
    await waitParticipant(d.dealId, late.participantId, REFUNDED);
    expect((await get(d.dealId)).deal).toMatchObject({ paid: 2, maxParticipants: 2 });
    await callsDone(d.dealId, r);
    expect(await refundsAtPayment([late.paymentId])).toEqual([[late.paymentId, 1, PRICE.toString()]]);
    const { rows } = await h.pool.query<{ call_id: string }>(
      `SELECT call_id FROM deal_calls WHERE participant_id = $1 AND kind = 'REFUND'`,
      [late.participantId],
    );
    expect(rows.map((c) => c.call_id)).toEqual([`${late.participantId}:late`]);
  });

  it('a CreatePayment answer lost in a crash: the job asks again with the same request id, and an outcome that came first applies', async () => {
    const d = await create();
    const p = (await join(d.dealId, 'u-crash')).participant!;
    // as if marketing died after payment created the payment and before it stored the answer
    await h.pool.query(`UPDATE participants SET payment_id = NULL, pay_url = '' WHERE participant_id = $1`, [
      p.participantId,
    ]);
    await h.pool.query(`UPDATE deal_calls SET status = 'DUE', done_at = NULL WHERE call_id = $1`, [
      p.participantId,
    ]);
    // the payer pays meanwhile: no participant names the payment yet, its outcome is kept
    await sandbox.pay(p.paymentId, 'success');
    await waitFor(
      'outcome kept for the unknown payment',
      async () => {
        const { rows } = await h.pool.query('SELECT 1 FROM unmatched_payments WHERE payment_id = $1', [
          p.paymentId,
        ]);
        return rows.length === 1 || undefined;
      },
      60_000,
      100,
    );
    expect(await statusOf(d.dealId, p.participantId)).toBe(PENDING);
    await callsDone(d.dealId, replica());
    const after = (await get(d.dealId)).participants.find((x) => x.participantId === p.participantId);
    expect(after).toMatchObject({ paymentId: p.paymentId, status: PAID });
    expect((await get(d.dealId)).deal).toMatchObject({ paid: 1, pending: 0 });
    const { rows } = await paymentDb.query<{ n: number }>(
      // asked twice with the same request id: one payment
      `SELECT count(*)::int AS n FROM payments WHERE payer_ref = 'u-crash'`,
    );
    expect(rows[0]?.n).toBe(1);
  });

  it('200 concurrent joins on a deal of 50 seats hold exactly 50', async () => {
    const d = await create({ minParticipants: 2, maxParticipants: 50 });
    const outcomes = await Promise.all(
      Array.from({ length: 200 }, (_, i) =>
        join(d.dealId, `u-c${i}`).then(
          (r) => r.participant?.status,
          (err: { code: number }) => err,
        ),
      ),
    );
    const held = outcomes.filter((o) => o === PENDING);
    const refused = outcomes.filter((o) => typeof o === 'object') as { code: number }[];
    expect(held).toHaveLength(50);
    expect(refused.map((e) => [e.code, errorCode(e as never)])).toEqual(
      Array(150).fill([status.FAILED_PRECONDITION, 'GROUP_DEAL_FULL']),
    );
    const now = await get(d.dealId);
    expect(now.deal).toMatchObject({ pending: 50, paid: 0 });
    expect(now.participants).toHaveLength(50);
    expect(new Set(now.participants.map((p) => p.paymentId)).size).toBe(50);
  }, 120_000);
});
