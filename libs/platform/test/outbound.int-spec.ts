import * as grpc from '@grpc/grpc-js';
import { propagation } from '@opentelemetry/api';
import { GetPaymentResponse, PaymentServiceService } from '@citybase/contracts/citybase/payment/v1/payment';
import { ClientCredentialsTokens, InfrastructureError, outboundClient, OutboundError } from '../src';
import { startTokenServiceFake, TestIssuer, TokenServiceFake } from '../src/testing';

/**
 * Service-to-service calls (src/grpc/outbound.ts): a fake callee (payment's GetPayment) that
 * answers what each test asks, the fake identity token service, and the outbound client between.
 */
describe('outbound service-to-service client', () => {
  let issuer: TestIssuer;
  let identity: TokenServiceFake;
  let server: grpc.Server;
  let address: string;
  let behaviour: (md: grpc.Metadata, cb: grpc.sendUnaryData<unknown>) => void;
  const seen: grpc.Metadata[] = [];

  beforeAll(async () => {
    issuer = await TestIssuer.start();
    identity = await startTokenServiceFake(issuer, {
      'svc-marketing': { secret: 's3cret', scopes: ['payment:read'], expiresIn: 300 },
    });
    server = new grpc.Server();
    const impl: Record<string, unknown> = {};
    for (const name of Object.keys(PaymentServiceService))
      impl[name] = (call: grpc.ServerUnaryCall<unknown, unknown>, cb: grpc.sendUnaryData<unknown>) => {
        seen.push(call.metadata);
        behaviour(call.metadata, cb);
      };
    server.addService(PaymentServiceService, impl as grpc.UntypedServiceImplementation);
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) =>
        err ? reject(err) : resolve(p),
      ),
    );
    address = `127.0.0.1:${port}`;
  });

  afterAll(async () => {
    server?.forceShutdown();
    await identity?.stop();
    await issuer?.stop();
  });

  const ok = (_md: grpc.Metadata, cb: grpc.sendUnaryData<unknown>) =>
    cb(null, GetPaymentResponse.fromPartial({ payment: { paymentId: 'p-1', status: 3 } }));
  const clientWith = (tokens: ClientCredentialsTokens, deadlineMs?: number) =>
    outboundClient(PaymentServiceService, { service: 'payment', url: address, tokens, deadlineMs });
  const tokensOf = (now?: () => number) =>
    new ClientCredentialsTokens(
      { identityUrl: identity.address, clientId: 'svc-marketing', clientSecret: 's3cret' },
      { now },
    );

  it('authenticates as the service: one token for concurrent calls, reused until shortly before it expires', async () => {
    behaviour = ok;
    let clock = Date.now();
    const tokens = tokensOf(() => clock);
    const client = clientWith(tokens);
    seen.length = 0;
    const answers = await Promise.all(
      Array.from({ length: 20 }, () => client.getPayment({ paymentId: 'p-1' })),
    );
    expect(answers.map((a) => a.payment?.paymentId)).toEqual(Array(20).fill('p-1'));
    expect(tokens.issued).toBe(1);
    const bearer = seen.map((md) => md.get('authorization')[0]);
    expect(new Set(bearer).size).toBe(1);
    expect(String(bearer[0])).toMatch(/^Bearer ey/);
    clock += 269_000; // 300 s token, renewed 30 s before: still valid
    await client.getPayment({ paymentId: 'p-1' });
    expect(tokens.issued).toBe(1);
    clock += 2_000;
    await client.getPayment({ paymentId: 'p-1' });
    expect(tokens.issued).toBe(2);
    client.close();
    tokens.close();
  });

  it('carries the trace context through the global propagator', async () => {
    behaviour = ok;
    const traceparent = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
    propagation.setGlobalPropagator({
      inject: (_ctx, carrier, setter) => setter.set(carrier, 'traceparent', traceparent),
      extract: (ctx) => ctx,
      fields: () => ['traceparent'],
    });
    const tokens = tokensOf();
    const client = clientWith(tokens);
    seen.length = 0;
    try {
      await client.getPayment({ paymentId: 'p-1' });
      expect(seen[0]?.get('traceparent')).toEqual([traceparent]);
    } finally {
      propagation.disable();
      client.close();
      tokens.close();
    }
  });

  it('fetches a new token once when the callee refuses the cached one', async () => {
    const tokens = tokensOf();
    const client = clientWith(tokens);
    let refusals = 1;
    behaviour = (md, cb) => {
      if (refusals-- > 0) cb({ code: grpc.status.UNAUTHENTICATED, details: 'token revoked' });
      else ok(md, cb);
    };
    await client.getPayment({ paymentId: 'p-1' });
    expect(tokens.issued).toBe(2);
    // refused again with the fresh token: the error reaches the caller
    refusals = 2;
    await expect(client.getPayment({ paymentId: 'p-1' })).rejects.toMatchObject({
      kind: 'unauthenticated',
      status: grpc.status.UNAUTHENTICATED,
    });
    client.close();
    tokens.close();
  });

  it("maps the callee's errors: its domain errors with its code and field, transient ones as infrastructure", async () => {
    const tokens = tokensOf();
    const client = clientWith(tokens, 300);
    const md = new grpc.Metadata();
    md.set('citybase-error-code', 'REFUND_EXCEEDS_PAID');
    md.set('citybase-error-field', 'amount.amount_minor');
    behaviour = (_md, cb) =>
      cb({ code: grpc.status.FAILED_PRECONDITION, details: 'refunds exceed the payment', metadata: md });
    const refused = await client.getPayment({ paymentId: 'p-1' }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(OutboundError);
    expect(refused).toMatchObject({
      service: 'payment',
      kind: 'failed_precondition',
      code: 'REFUND_EXCEEDS_PAID',
      message: 'payment: refunds exceed the payment',
      detail: { field: 'amount.amount_minor' },
    });
    behaviour = (_md, cb) => cb({ code: grpc.status.UNAVAILABLE, details: 'database down' });
    const down = await client.getPayment({ paymentId: 'p-1' }).catch((e: unknown) => e);
    expect(down).toBeInstanceOf(InfrastructureError);
    expect(down).toMatchObject({ kind: 'unavailable' });
    // a callee that never answers: the deadline ends the call
    behaviour = () => undefined;
    const slow = await client.getPayment({ paymentId: 'p-1' }).catch((e: unknown) => e);
    expect(slow).toMatchObject({ kind: 'deadline_exceeded' });
    client.close();
    tokens.close();
  });

  it('refuses wrong credentials as the callee would (UNAUTHENTICATED), and an unreachable identity as unavailable', async () => {
    const wrong = new ClientCredentialsTokens({
      identityUrl: identity.address,
      clientId: 'svc-marketing',
      clientSecret: 'nope',
    });
    await expect(wrong.token()).rejects.toMatchObject({ kind: 'unauthenticated' });
    // through a client: the caller's own authentication failed, not the callee's answer: retry later
    behaviour = ok;
    const client = clientWith(wrong);
    const err = await client.getPayment({ paymentId: 'p-1' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InfrastructureError);
    expect(err).toMatchObject({ kind: 'unavailable' });
    client.close();
    wrong.close();
    const gone = new ClientCredentialsTokens(
      { identityUrl: '127.0.0.1:1', clientId: 'svc-marketing', clientSecret: 's3cret' },
      { deadlineMs: 500 },
    );
    await expect(gone.token()).rejects.toBeInstanceOf(InfrastructureError);
    gone.close();
  });
});
