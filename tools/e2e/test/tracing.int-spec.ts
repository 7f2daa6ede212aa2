import { createServer, Server } from 'http';
import { AddressInfo } from 'net';
import { gunzipSync } from 'zlib';
import { PaymentScenario, PaymentServiceService } from '@citybase/contracts/citybase/payment/v1/payment';
import {
  createTestDatabase,
  freePort,
  grpcClient,
  kafkaTestPrefix,
  routeProjectToSandbox,
  ServiceProcess,
  spawnSandboxChannel,
  spawnService,
  TestDatabase,
  TestIssuer,
  uniqueName,
  waitFor,
} from '@citybase/platform/testing';

interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
}
interface ExportedSpan extends OtlpSpan {
  service: string;
}

/** A minimal OTLP/HTTP (JSON) trace collector, to see what the services export. */
async function startCollector(): Promise<{ url: string; spans: ExportedSpan[]; close(): Promise<void> }> {
  const spans: ExportedSpan[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (d: Buffer) => chunks.push(d));
    req.on('end', () => {
      const raw = Buffer.concat(chunks);
      const body = (req.headers['content-encoding'] === 'gzip' ? gunzipSync(raw) : raw).toString();
      if (!String(req.headers['content-type']).includes('json')) {
        res.writeHead(415).end();
        return;
      }
      const payload = JSON.parse(body) as {
        resourceSpans: {
          resource: { attributes: { key: string; value: { stringValue?: string } }[] };
          scopeSpans: { spans: OtlpSpan[] }[];
        }[];
      };
      for (const rs of payload.resourceSpans ?? []) {
        const service = rs.resource.attributes.find((a) => a.key === 'service.name')?.value.stringValue ?? '';
        for (const ss of rs.scopeSpans) for (const s of ss.spans) spans.push({ ...s, service });
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    spans,
    close: () => new Promise((r) => server.close(() => r())),
  };
}

describe('distributed tracing: gRPC -> PostgreSQL -> outbox -> Kafka -> consumer -> PostgreSQL', () => {
  let collector: Awaited<ReturnType<typeof startCollector>>;
  const dbs: TestDatabase[] = [];
  const procs: ServiceProcess[] = [];

  let issuer: TestIssuer;
  let stopSandbox = (): Promise<void> => Promise.resolve();

  beforeAll(async () => {
    collector = await startCollector();
    issuer = await TestIssuer.start();
  });
  afterAll(async () => {
    await stopSandbox();
    await issuer.stop();
    await Promise.all(procs.map((p) => p.stop()));
    await Promise.all(dbs.map((d) => d.drop()));
    await collector.close();
  });

  it('follows one payment through both services in one trace, and logs carry its trace id', async () => {
    const prefix = kafkaTestPrefix('tracing');
    const start = async (name: string) => {
      const db = await createTestDatabase(`trace_${name}`);
      dbs.push(db);
      const svc = await spawnService(name, {
        DATABASE_URL: db.url,
        KAFKA_TOPIC_PREFIX: prefix,
        OTEL_EXPORTER_OTLP_ENDPOINT: collector.url,
        OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'http/json',
        OTEL_BSP_SCHEDULE_DELAY: '200',
        AUTH_JWKS_URL: issuer.jwksUrl,
      });
      procs.push(svc);
      await svc.ready();
      return svc;
    };
    const payment = await start('payment');
    await start('settlement');
    // the channel's notification waits an hour: the payer's success reaches payment through the
    // client's ConfirmPayment, so PaymentSucceeded (what settlement's escrow consumes) is written in
    // that RPC's trace
    const sandbox = await spawnSandboxChannel({ notifyDelayMs: 3_600_000 });
    stopSandbox = () => sandbox.stop();
    await routeProjectToSandbox({
      paymentAddress: payment.grpcAddress,
      issuer,
      sandbox,
      operatorId: 'op',
      projectId: 'proj',
    });
    void (await freePort());

    const client = grpcClient(PaymentServiceService, payment.grpcAddress, () =>
      issuer.metadata({ scopes: ['payment:write'], operators: ['op'] }),
    );
    const { payment: p } = await client.createPayment({
      requestId: uniqueName('trace'),
      tenancy: { operatorId: 'op', projectId: 'proj', merchantId: '' },
      merchantId: 'm',
      scenario: PaymentScenario.PAYMENT_SCENARIO_EV_CHARGING,
      amount: { currency: 'CNY', amountMinor: 3_200n },
      payerRef: 'driver-7',
      description: 'charging session',
      expiresInSeconds: 0,
      profitSharing: false,
    });
    await sandbox.pay(p!.paymentId, 'success');
    await client.confirmPayment({ paymentId: p!.paymentId });
    client.close();

    const rpc = await waitFor('CreatePayment server span', async () =>
      collector.spans.find(
        (s) =>
          s.service === 'citybase-payment' && s.kind === 2 && s.name.endsWith('PaymentService/CreatePayment'),
      ),
    );
    expect(
      collector.spans.some(
        (s) =>
          s.traceId === rpc.traceId && s.service === 'citybase-payment' && /INSERT|pg\.query/.test(s.name),
      ),
    ).toBe(true);
    const confirm = await waitFor('ConfirmPayment server span', async () =>
      collector.spans.find(
        (s) =>
          s.service === 'citybase-payment' &&
          s.kind === 2 &&
          s.name.endsWith('PaymentService/ConfirmPayment'),
      ),
    );
    const trace = () => collector.spans.filter((s) => s.traceId === confirm.traceId);
    const consumerSpan = await waitFor('settlement process span in the same trace', async () =>
      trace().find(
        (s) =>
          s.service === 'citybase-settlement' && s.name === 'process citybase.payment.v1.PaymentSucceeded',
      ),
    );
    const publish = trace().find(
      (s) => s.service === 'citybase-payment' && s.name === `publish ${prefix}citybase.payment.events.v1`,
    );
    expect(publish).toBeDefined();
    expect(consumerSpan.parentSpanId).toBe(publish!.spanId);
    // PostgreSQL spans under the RPC (payment) and under the handler (settlement)
    await waitFor('pg spans', async () =>
      trace().some((s) => s.service === 'citybase-payment' && /INSERT|pg\.query/.test(s.name)) &&
      trace().some((s) => s.service === 'citybase-settlement' && s.parentSpanId === consumerSpan.spanId)
        ? true
        : undefined,
    );

    const logLine = payment
      .output()
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { msg?: string; payment_id?: string; trace_id?: string })
      .find((l) => l.msg === 'payment created' && l.payment_id === p!.paymentId);
    expect(logLine?.trace_id).toBe(rpc.traceId);
  });
});
