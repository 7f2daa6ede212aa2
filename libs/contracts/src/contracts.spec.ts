import {
  loadFileDescriptorSetFromBuffer,
  type MethodDefinition,
  type PackageDefinition,
} from '@grpc/proto-loader';
import { Money } from './citybase/common/v1/common';
import { PaymentScenario, PaymentServiceService, CreatePaymentRequest } from './citybase/payment/v1/payment';
import { descriptorSetPath, loadDescriptorSet } from './descriptors';
import { grpcServices } from './services';

type GeneratedService = Record<string, { path: string; requestStream: boolean; responseStream: boolean }>;

// Fully qualified service name -> ts-proto grpc-js service definition (services.ts).
const generated: Record<string, GeneratedService> = Object.fromEntries(
  Object.entries(grpcServices).map(([name, { definition }]) => [name, definition as unknown as GeneratedService]),
);

type ServiceDef = Record<string, MethodDefinition<unknown, unknown>>;

function servicesOf(pkg: PackageDefinition): Record<string, ServiceDef> {
  const out: Record<string, ServiceDef> = {};
  for (const [name, def] of Object.entries(pkg)) {
    // Message and enum definitions carry `format`; service definitions are maps of methods.
    if (!('format' in def)) out[name] = def as ServiceDef;
  }
  return out;
}

describe('contracts', () => {
  const beyond2p53 = 9007199254740993n; // 2^53 + 1: not representable as a JS number

  it('round-trips an int64 amount beyond 2^53 exactly as bigint', () => {
    for (const amountMinor of [beyond2p53, -beyond2p53, 0n, 9223372036854775807n, -9223372036854775808n]) {
      const bytes = Money.encode({ currency: 'CNY', amountMinor }).finish();
      const decoded = Money.decode(bytes);
      expect(typeof decoded.amountMinor).toBe('bigint');
      expect(decoded.amountMinor).toBe(amountMinor);
      expect(decoded.currency).toBe('CNY');
    }
  });

  it('descriptor set path resolves to the file', () => {
    expect(descriptorSetPath.endsWith('descriptor-set.binpb')).toBe(true);
    expect(loadDescriptorSet().length).toBeGreaterThan(0);
  });

  const pkg = loadFileDescriptorSetFromBuffer(loadDescriptorSet(), {
    longs: String,
    enums: String,
    defaults: true,
  });
  const services = servicesOf(pkg);

  it('descriptor set lists exactly the services of services.ts', () => {
    expect(Object.keys(services).sort()).toEqual(Object.keys(generated).sort());
    expect(pkg['google.protobuf.Timestamp']).toBeDefined(); // imports are included
  });

  it.each(Object.keys(generated))('generated grpc-js definition of %s matches the descriptor set', (name) => {
    const fromDescriptor = services[name]!;
    const fromCode = generated[name]!;
    const shape = (svc: Record<string, { path: string; requestStream: boolean; responseStream: boolean }>) =>
      Object.values(svc)
        .map((m) => ({ path: m.path, requestStream: m.requestStream, responseStream: m.responseStream }))
        .sort((a, b) => a.path.localeCompare(b.path));
    expect(shape(fromCode)).toEqual(shape(fromDescriptor));
    expect(Object.keys(fromCode).length).toBeGreaterThanOrEqual(1);
    for (const m of Object.values(fromCode)) expect(m.path.startsWith(`/${name}/`)).toBe(true);
  });

  it('bytes written by generated code decode with the descriptor set (wire compatible)', () => {
    const request: CreatePaymentRequest = {
      requestId: 'req-1',
      tenancy: { operatorId: 'op-1', projectId: 'prj-1', merchantId: 'm-1' },
      merchantId: 'm-1',
      scenario: PaymentScenario.PAYMENT_SCENARIO_EV_CHARGING,
      amount: { currency: 'CNY', amountMinor: beyond2p53 },
      payerRef: 'payer-1',
      description: 'charging session',
      expiresInSeconds: 600,
      profitSharing: true,
    };
    const bytes = PaymentServiceService.createPayment.requestSerialize(request);
    const method = services['citybase.payment.v1.PaymentService']!['CreatePayment']!;
    const viaDescriptor = method.requestDeserialize(bytes) as Record<string, unknown>;
    // A descriptor-set package definition keeps the proto (snake_case) field names.
    expect(viaDescriptor).toMatchObject({
      request_id: 'req-1',
      tenancy: { operator_id: 'op-1', project_id: 'prj-1', merchant_id: 'm-1' },
      merchant_id: 'm-1',
      scenario: 'PAYMENT_SCENARIO_EV_CHARGING',
      amount: { currency: 'CNY', amount_minor: '9007199254740993' },
      payer_ref: 'payer-1',
    });
    expect(PaymentServiceService.createPayment.requestDeserialize(bytes)).toEqual(request);
  });
});
