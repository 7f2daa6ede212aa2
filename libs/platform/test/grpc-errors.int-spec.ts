import * as grpc from '@grpc/grpc-js';
import { Client as PgClient } from 'pg';
import { Controller, Module } from '@nestjs/common';
import { GrpcMethod } from '@nestjs/microservices';
import { loadDescriptorSet } from '@citybase/contracts/descriptors';
import {
  Payment,
  PaymentScenario,
  PaymentServiceService,
  PaymentStatus,
  CreatePaymentRequest,
  CreatePaymentResponse,
} from '@citybase/contracts/citybase/payment/v1/payment';
import { DomainError, RunningService, serviceConfigSchema, startService } from '../src';
import { createTestDatabase, freePort, TestDatabase, TestIssuer } from '../src/testing';

/** Calls that reached the handler, and the database it may query. */
const handler = { calls: 0, dbUrl: '' };

/** A handler that fails in each way a real one can, to see what the caller receives. */
@Controller()
class FailingPaymentController {
  @GrpcMethod('PaymentService', 'createPayment')
  async createPayment(req: CreatePaymentRequest): Promise<CreatePaymentResponse> {
    handler.calls += 1;
    switch (req.description) {
      case 'pg-data': {
        // a value the service failed to validate, refused by PostgreSQL: 22P02 invalid_text_representation
        const pg = new PgClient({ connectionString: handler.dbUrl });
        await pg.connect();
        try {
          await pg.query(`SELECT $1::int AS n`, ['secret-value']);
        } finally {
          await pg.end();
        }
        throw new Error('unreachable');
      }
      case 'invalid':
        throw DomainError.invalid('amount.amount_minor', 'must be positive', 'PAYMENT_AMOUNT_NOT_POSITIVE');
      case 'bug':
        throw new TypeError('secret internals: cannot read properties of undefined');
      default:
        return {
          payment: Payment.fromPartial({
            paymentId: 'p-1',
            status: PaymentStatus.PAYMENT_STATUS_CREATED,
            amount: req.amount,
            scenario: req.scenario,
            tenancy: req.tenancy,
            merchantId: req.merchantId,
            description: req.description,
          }),
        };
    }
  }
}

@Module({ controllers: [FailingPaymentController] })
class FailingModule {}

describe('gRPC error mapping through the NestJS transport', () => {
  let db: TestDatabase;
  let running: RunningService<ReturnType<typeof schema.parse>>;
  let client: grpc.Client &
    Record<
      string,
      (
        req: unknown,
        md: grpc.Metadata,
        cb: (err: grpc.ServiceError | null, res: CreatePaymentResponse) => void,
      ) => void
    >;
  let issuer: TestIssuer;
  const schema = serviceConfigSchema({ grpcPort: 1, httpPort: 1, database: 'unused' });

  beforeAll(async () => {
    issuer = await TestIssuer.start();
    db = await createTestDatabase('grpc_errors');
    handler.dbUrl = db.url;
    const grpcPort = await freePort();
    running = await startService(
      {
        name: 'payment',
        configSchema: schema,
        module: FailingModule,
        grpcServices: { 'citybase.payment.v1.PaymentService': PaymentServiceService },
        descriptorSet: loadDescriptorSet(),
        migrations: [],
        topics: [],
      },
      {
        DATABASE_URL: db.url,
        GRPC_PORT: String(grpcPort),
        HTTP_PORT: String(await freePort()),
        LOG_LEVEL: 'silent',
        AUTH_JWKS_URL: issuer.jwksUrl,
        CITY_ID: 'test-city',
      },
    );
    const Client = grpc.makeGenericClientConstructor(PaymentServiceService, 'PaymentService');
    client = new Client(`127.0.0.1:${grpcPort}`, grpc.credentials.createInsecure()) as typeof client;
  });

  afterAll(async () => {
    client?.close();
    await running?.stop();
    await db?.drop();
    await issuer?.stop();
  });

  const writer = () => issuer.metadata({ scopes: ['payment:write', 'payment:read'], operators: ['o'] });
  const call = (description: string, metadata = writer()) =>
    new Promise<{ err: grpc.ServiceError | null; res?: CreatePaymentResponse }>((resolve) =>
      client.createPayment(
        {
          requestId: 'r-1',
          tenancy: { operatorId: 'o', projectId: 'p', merchantId: '' },
          merchantId: 'm',
          scenario: PaymentScenario.PAYMENT_SCENARIO_GOODS,
          amount: { currency: 'CNY', amountMinor: 9007199254740993n },
          payerRef: 'payer',
          description,
          expiresInSeconds: 0,
          profitSharing: false,
        },
        metadata,
        (err, res) => resolve({ err, res }),
      ),
    );

  it('returns the handler result with int64 money intact', async () => {
    const { err, res } = await call('ok');
    expect(err).toBeNull();
    expect(res?.payment?.amount).toEqual({ currency: 'CNY', amountMinor: 9007199254740993n });
  });

  it('maps a domain error to its status with the field and rule in the message and metadata', async () => {
    const { err } = await call('invalid');
    expect(err?.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(err?.details).toBe('amount.amount_minor: must be positive');
    expect(err?.metadata.get('citybase-error-code')).toEqual(['PAYMENT_AMOUNT_NOT_POSITIVE']);
    expect(err?.metadata.get('citybase-error-field')).toEqual(['amount.amount_minor']);
  });

  it('maps a bug to INTERNAL with an error id and none of its details', async () => {
    const { err } = await call('bug');
    expect(err?.code).toBe(grpc.status.INTERNAL);
    expect(err?.details).toMatch(/^internal error [0-9a-f-]{36}$/);
    expect(err?.details).not.toContain('secret');
    expect(err?.metadata.get('citybase-error-id')[0]).toBe(err?.details.replace('internal error ', ''));
  });

  it('maps a PostgreSQL data exception (class 22) to INVALID_ARGUMENT, without the SQL or the value', async () => {
    const { err } = await call('pg-data');
    expect(err?.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(err?.details).toMatch(
      /^a request value was refused by the database \(data exception 22P02\); error id [0-9a-f-]{36}$/,
    );
    expect(err?.details).not.toMatch(/secret|SELECT|integer/);
    expect(err?.metadata.get('citybase-error-code')).toEqual(['DATA_EXCEPTION']);
  });

  it('refuses a NUL in any request string at the edge, naming the field; the handler never runs', async () => {
    const before = handler.calls;
    const { err } = await call('ok\u0000');
    expect(err?.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(err?.details).toBe('description: must not contain NUL characters');
    expect(err?.metadata.get('citybase-error-field')).toEqual(['description']);
    expect(handler.calls).toBe(before);
  });

  it('refuses invalid UTF-8 (a lone surrogate in CESU-8) on the raw bytes, and authenticates first', async () => {
    const valid = CreatePaymentRequest.encode(
      CreatePaymentRequest.fromPartial({ requestId: 'r-1', merchantId: 'm', description: 'ok' }),
    ).finish();
    // description (field 7) again, as the bytes a client sends for "\ud800": later values win in proto3
    const bytes = Buffer.concat([valid, Buffer.from([(7 << 3) | 2, 3, 0xed, 0xa0, 0x80])]);
    const raw = (md: grpc.Metadata) =>
      new Promise<grpc.ServiceError | null>((resolve) =>
        client.makeUnaryRequest(
          '/citybase.payment.v1.PaymentService/CreatePayment',
          (b: Buffer) => b,
          (b: Buffer) => b,
          bytes,
          md,
          (e) => resolve(e),
        ),
      );
    const before = handler.calls;
    const err = await raw(writer());
    expect(err?.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(err?.details).toBe('description: must be valid UTF-8 (no lone surrogates)');
    expect(err?.metadata.get('citybase-error-field')).toEqual(['description']);
    expect((await raw(new grpc.Metadata()))?.code).toBe(grpc.status.UNAUTHENTICATED);
    expect(handler.calls).toBe(before);
  });

  it('keeps serving after failures', async () => {
    expect((await call('ok')).err).toBeNull();
  });

  it('refuses a call without a valid token before the handler runs, with the reason in the trailers', async () => {
    const none = await call('bug', new grpc.Metadata());
    expect(none.err?.code).toBe(grpc.status.UNAUTHENTICATED);
    expect(none.err?.metadata.get('citybase-error-code')).toEqual(['TOKEN_MISSING']);
    const forged = await call(
      'bug',
      issuer.metadata({ scopes: ['payment:write'], claims: { city: 'elsewhere' } }),
    );
    expect(forged.err?.metadata.get('citybase-error-code')).toEqual(['TOKEN_CITY_INVALID']);
    const readOnly = await call('bug', issuer.metadata({ scopes: ['payment:read'], operators: ['o'] }));
    expect(readOnly.err?.code).toBe(grpc.status.PERMISSION_DENIED);
  });

  it('authenticates an RPC of the contract the module does not implement, then answers UNIMPLEMENTED', async () => {
    const get = (md: grpc.Metadata) =>
      new Promise<grpc.ServiceError | null>((resolve) =>
        (client as unknown as Record<string, typeof client.createPayment>).getPayment(
          { paymentId: '00000000-0000-4000-8000-000000000000' },
          md,
          (err) => resolve(err),
        ),
      );
    expect((await get(new grpc.Metadata()))?.code).toBe(grpc.status.UNAUTHENTICATED);
    expect((await get(writer()))?.code).toBe(grpc.status.UNIMPLEMENTED);
  });
});
