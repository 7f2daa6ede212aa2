// Migration 0005 moves payment's own idempotency (channel_request_keys, request_hash columns) into
// the use-case pipeline's idempotency_keys: a database holding keys written the old way is migrated
// by the service (here in-process) when it starts, whose retries of those old requests must still be
// answered as retries.
import { copyFileSync, mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { status } from '@grpc/grpc-js';
import { Client, Pool } from 'pg';
import {
  ChannelKind,
  CreatePaymentRequest,
  PaymentServiceService,
  PaymentStatus,
  RefundPaymentRequest,
  RegisterChannelRequest,
  RegisterChannelResponse,
  RefundStatus,
} from '@citybase/contracts/citybase/payment/v1/payment';
import { platformMigrations, requestFingerprint, runMigrations } from '@citybase/platform';
import {
  createTestDatabase,
  grpcClient,
  grpcError,
  PromiseClient,
  ServiceUnderTest,
  startInProcess,
  TestDatabase,
  TestIssuer,
  kafkaTestPrefix,
} from '@citybase/platform/testing';
import { toRegisterChannelCommand } from '../src/channels/channels.domain';
import { toCreatePaymentCommand } from '../src/payments/payments.domain';
import { definition } from '../src/definition';
import { toRefundPaymentCommand } from '../src/refunds/refunds.domain';
import { paymentRequest } from './intents-harness';

type PaymentClient = PromiseClient<typeof PaymentServiceService>;

const MIGRATIONS = join(__dirname, '..', 'migrations');
const APP = 'cb_app_before_0005';
const ADMIN = 'cb_admin_before_0005';
const PAYMENT_ID = '00000000-0000-4000-8000-000000000001';
const REFUND_ID = '00000000-0000-4000-8000-000000000002';
const INSTRUCTED_REFUND_ID = '00000000-0000-4000-8000-000000000003';
const RECORDED_PAYMENT_ID = '00000000-0000-4000-8000-000000000004';

describe('payment migration 0005: request keys written before it are answered as retries after it', () => {
  let issuer: TestIssuer;
  let db: TestDatabase;
  let pg: Client;
  let svc: ServiceUnderTest | undefined;
  let app: PaymentClient;
  let admin: PaymentClient;

  const payReq: CreatePaymentRequest = paymentRequest({ requestId: 'pay-before-0005' });
  const refundReq: RefundPaymentRequest = {
    requestId: 'refund-before-0005',
    paymentId: PAYMENT_ID,
    amount: { currency: 'CNY', amountMinor: 345n },
    reason: 'returned',
  };
  const channelReq: RegisterChannelRequest = {
    requestId: 'register-before-0005',
    channelId: 'ch-before-0005',
    kind: ChannelKind.CHANNEL_KIND_SANDBOX,
    displayName: 'Sandbox before 0005',
    endpoint: 'http://127.0.0.1:9/sandbox',
  };

  beforeAll(async () => {
    issuer = await TestIssuer.start();
    db = await createTestDatabase('payment_0005');
    // the schema as it was before 0005: platform migrations and payment 0001..0004
    const before = mkdtempSync(join(tmpdir(), 'payment-before-0005-'));
    for (const f of readdirSync(MIGRATIONS).filter((f) => f < '0005')) {
      copyFileSync(join(MIGRATIONS, f), join(before, f));
    }
    const pool = new Pool({ connectionString: db.url });
    try {
      await runMigrations(pool, [platformMigrations, { namespace: 'payment', dir: before }]);
    } finally {
      await pool.end();
    }
    pg = new Client({ connectionString: db.url });
    await pg.connect();
    // what the old code wrote for a CreatePayment, a RefundPayment and a RegisterChannel
    const payCmd = toCreatePaymentCommand(payReq);
    await pg.query(
      `INSERT INTO payments (payment_id, client_id, request_id, request_hash, operator_id, project_id, merchant_id,
                             scenario, currency, amount_minor, payer_ref, description, status, channel,
                             expires_at, completed_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, now() + interval '1 hour', now())`,
      [
        PAYMENT_ID,
        APP,
        payCmd.requestId,
        requestFingerprint(payCmd),
        payCmd.operatorId,
        payCmd.projectId,
        payCmd.merchantId,
        payCmd.scenario,
        payCmd.currency,
        payCmd.amountMinor,
        payCmd.payerRef,
        payCmd.description,
        PaymentStatus.PAYMENT_STATUS_SUCCEEDED,
        channelReq.channelId,
      ],
    );
    // a payment of the RecordPayment era (before intents): no client
    await pg.query(
      `INSERT INTO payments (payment_id, client_id, request_id, request_hash, operator_id, project_id, merchant_id,
                             scenario, currency, amount_minor, payer_ref, description, status, expires_at, completed_at)
       VALUES ($1, '', 'recorded-1', 'an older hash', 'op-1', 'proj-1', 'm-1', 1, 'CNY', 100, 'p', '', 3, now(), now())`,
      [RECORDED_PAYMENT_ID],
    );
    const refundCmd = toRefundPaymentCommand(refundReq);
    await pg.query(
      `INSERT INTO refunds (refund_id, payment_id, client_id, request_id, request_hash, channel, currency,
                            amount_minor, reason, status, completed_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, now())`,
      [
        REFUND_ID,
        PAYMENT_ID,
        APP,
        refundCmd.requestId,
        requestFingerprint(refundCmd),
        channelReq.channelId,
        refundCmd.currency,
        refundCmd.amountMinor,
        refundCmd.reason,
        RefundStatus.REFUND_STATUS_SUCCEEDED,
      ],
    );
    // a refund settlement instructed: no RPC, so no request key
    await pg.query(
      `INSERT INTO refunds (refund_id, payment_id, client_id, request_id, request_hash, channel, currency,
                            amount_minor, reason, status, completed_at, instruction_id)
       VALUES ($1, $2, 'settlement', 'ins-1', 'h', $3, 'CNY', 5, 'dispute', $4, now(), 'ins-1')`,
      [INSTRUCTED_REFUND_ID, PAYMENT_ID, channelReq.channelId, RefundStatus.REFUND_STATUS_SUCCEEDED],
    );
    const channelCmd = toRegisterChannelCommand(channelReq);
    await pg.query(
      'INSERT INTO channels (channel_id, kind, display_name, endpoint) VALUES ($1, $2, $3, $4)',
      [channelCmd.channelId, channelCmd.kind, channelCmd.displayName, channelCmd.endpoint],
    );
    const firstAnswer: RegisterChannelResponse = {
      channel: {
        channelId: channelCmd.channelId,
        kind: channelCmd.kind,
        displayName: channelCmd.displayName,
        endpoint: channelCmd.endpoint,
        enabled: true,
        createdAt: undefined,
      },
    };
    await pg.query(
      `INSERT INTO channel_request_keys (client_id, method, request_id, fingerprint, response)
       VALUES ($1, 'PaymentService.RegisterChannel', $2, $3, $4)`,
      [
        ADMIN,
        channelReq.requestId,
        requestFingerprint(channelCmd),
        Buffer.from(RegisterChannelResponse.encode(firstAnswer).finish()),
      ],
    );

    // the new build migrates the database when it starts
    svc = await startInProcess(definition, {
      DATABASE_URL: db.url,
      KAFKA_TOPIC_PREFIX: kafkaTestPrefix('payment'),
      AUTH_JWKS_URL: issuer.jwksUrl,
      PAYMENT_RECONCILE_INTERVAL_MS: '600000',
    });
    await svc.ready();
    app = grpcClient(PaymentServiceService, svc.grpcAddress, () =>
      issuer.metadata({
        sub: APP,
        operators: ['op-1'],
        scopes: ['payment:write', 'payment:read', 'payment:refund'],
      }),
    );
    admin = grpcClient(PaymentServiceService, svc.grpcAddress, () =>
      issuer.metadata({
        sub: ADMIN,
        scopes: ['city:admin', 'payment:channels.admin', 'payment:channels.write', 'payment:read'],
      }),
    );
  });

  afterAll(async () => {
    app?.close();
    admin?.close();
    await svc?.stop();
    await pg?.end();
    await db?.drop();
    await issuer?.stop();
  });

  const written = async () =>
    (
      await pg.query<Record<string, number>>(
        `SELECT (SELECT count(*)::int FROM payments) AS payments, (SELECT count(*)::int FROM refunds) AS refunds,
                (SELECT count(*)::int FROM channels) AS channels, (SELECT count(*)::int FROM outbox) AS events,
                (SELECT count(*)::int FROM idempotency_keys) AS request_keys`,
      )
    ).rows[0];

  it('carries the old keys over with their fingerprints and drops the old mechanisms', async () => {
    const { rows } = await pg.query(
      `SELECT client_id, method, request_id, resource_id FROM idempotency_keys ORDER BY method`,
    );
    expect(rows).toEqual([
      {
        client_id: APP,
        method: 'PaymentService.CreatePayment',
        request_id: payReq.requestId,
        resource_id: PAYMENT_ID,
      },
      {
        client_id: APP,
        method: 'PaymentService.RefundPayment',
        request_id: refundReq.requestId,
        resource_id: REFUND_ID,
      },
      {
        client_id: ADMIN,
        method: 'PaymentService.RegisterChannel',
        request_id: channelReq.requestId,
        resource_id: '',
      },
    ]);
    const old = await pg.query(
      `SELECT table_name, column_name FROM information_schema.columns
        WHERE table_schema = 'public' AND (column_name = 'request_hash' OR table_name = 'channel_request_keys'
              OR (table_name = 'payments' AND column_name IN ('client_id', 'request_id')))`,
    );
    expect(old.rows).toEqual([]);
  });

  it('answers a retry of an old CreatePayment with its payment, writing nothing; another request with its key is refused', async () => {
    const before = await written();
    const again = (await app.createPayment(payReq)).payment!;
    expect(again).toMatchObject({ paymentId: PAYMENT_ID, status: PaymentStatus.PAYMENT_STATUS_SUCCEEDED });
    expect(await written()).toEqual(before);
    const err = await grpcError(
      app.createPayment({ ...payReq, amount: { currency: 'CNY', amountMinor: 1n } }),
    );
    expect(err).toMatchObject({
      code: status.ALREADY_EXISTS,
      details: 'request_id: already used for a different request',
    });
    expect(await written()).toEqual(before);
  });

  it('answers a retry of an old RefundPayment with its refund, writing nothing; another request with its key is refused', async () => {
    const before = await written();
    const again = (await app.refundPayment(refundReq)).refund!;
    expect(again).toMatchObject({ refundId: REFUND_ID, status: RefundStatus.REFUND_STATUS_SUCCEEDED });
    expect(await written()).toEqual(before);
    const err = await grpcError(
      app.refundPayment({ ...refundReq, amount: { currency: 'CNY', amountMinor: 346n } }),
    );
    expect(err).toMatchObject({ code: status.ALREADY_EXISTS });
    expect(await written()).toEqual(before);
  });

  it('answers a retry of an old RegisterChannel with the channel (not CHANNEL_EXISTS); another request with its key is refused', async () => {
    const before = await written();
    const again = (await admin.registerChannel(channelReq)).channel!;
    expect(again).toMatchObject({ channelId: channelReq.channelId, displayName: channelReq.displayName });
    expect(await written()).toEqual(before);
    const err = await grpcError(admin.registerChannel({ ...channelReq, displayName: 'other' }));
    expect(err).toMatchObject({
      code: status.ALREADY_EXISTS,
      details: 'request_id: already used for a different request',
    });
    expect(await written()).toEqual(before);
  });

  it('still runs requests the old keys do not cover (a new key of the same client)', async () => {
    const fresh = (
      await app.refundPayment({
        ...refundReq,
        requestId: 'refund-after-0005',
        amount: { currency: 'CNY', amountMinor: 10n },
      })
    ).refund!;
    expect(fresh.refundId).not.toBe(REFUND_ID);
  });
});
