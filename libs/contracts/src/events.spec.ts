import * as protoLoader from '@grpc/proto-loader';
import { existsSync, readdirSync, readFileSync } from 'fs';
import { join } from 'path';
import { loadDescriptorSet } from './descriptors';
import { defineEvent, reusingEncoder } from './event-types';
import { allEvents, IotEvents, PaymentEvents } from './events';
import { PaymentCreated } from './citybase/payment/v1/events';

interface FieldDescriptor {
  name: string;
  typeName?: string;
}
interface MessageDefinition {
  format?: string;
  type?: { field: FieldDescriptor[] };
}

const definitions = protoLoader.loadFileDescriptorSetFromBuffer(loadDescriptorSet(), { keepCase: true }) as unknown as Record<
  string,
  MessageDefinition
>;
const camel = (s: string) => s.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());

describe('event registry', () => {
  const types = allEvents.types();

  it.each(types.map((t) => [t.type, t] as const))('%s is a message of the descriptor set, with the codec of that message', (_name, t) => {
    const def = definitions[t.type];
    expect(def?.format).toMatch(/DescriptorProto/);
    // The codec must be this message's: its fields are exactly the message's fields.
    const codecFields = Object.keys((t.codec as unknown as { fromPartial(o: object): object }).fromPartial({})).sort();
    expect(codecFields).toEqual(def!.type!.field.map((f) => camel(f.name)).sort());
  });

  it('routes each type to its own domain topic', () => {
    for (const t of types) {
      const domain = t.type.split('.')[1];
      expect(t.topic.startsWith(`citybase.${domain}.`)).toBe(true);
    }
    expect(PaymentEvents.PaymentCreated.topic).toBe('citybase.payment.events.v1');
  });

  it('registers every message of the events.proto files that is not only a part of another event', () => {
    const registered = new Set(types.map((t) => t.type));
    // field type names are relative to the event's package ("Reading", "points.v1.IssuerPoints"):
    // protobuf resolves them against the package and each of its parents
    const scopesOf = (type: string) =>
      type
        .split('.')
        .slice(0, -1)
        .map((_, i, parts) => parts.slice(0, parts.length - i).join('.'));
    const partOfAnEvent = new Set(
      types.flatMap((t) =>
        definitions[t.type].type!.field.flatMap((f) => scopesOf(t.type).map((scope) => `${scope}.${f.typeName ?? ''}`)),
      ),
    );
    const protoRoot = join(__dirname, '..', '..', '..', 'proto', 'citybase');
    const declared = readdirSync(protoRoot).flatMap((domain) => {
      const file = join(protoRoot, domain, 'v1', 'events.proto');
      if (!existsSync(file)) return [];
      return [...readFileSync(file, 'utf8').matchAll(/^message (\w+)/gm)].map((m) => `citybase.${domain}.v1.${m[1]}`);
    });
    expect(declared.length).toBeGreaterThan(15);
    expect(declared.filter((name) => !registered.has(name) && !partOfAnEvent.has(name))).toEqual([]);
  });

  it('refuses a type name that is not a Citybase event, or a topic of another domain', () => {
    expect(() => defineEvent('payment.PaymentCreated', PaymentCreated)).toThrow(/must look like citybase/);
    expect(() => defineEvent('citybase.payment.v1.PaymentCreated', PaymentCreated, 'citybase.settlement.events.v1')).toThrow(
      /does not belong to domain payment/,
    );
  });
});

describe('reusingEncoder', () => {
  it('answers the bytes a fresh encode answers, each call its own copy, small after large', () => {
    const codec = IotEvents.TelemetryReported.codec;
    const message = (deviceId: string, readings: number) => ({
      ...codec.decode(new Uint8Array()),
      deviceId,
      messageId: `m-${readings}`,
      readings: Array.from({ length: readings }, (_, i) => ({ metric: `metric_${i}`, value: i / 3 })),
    });
    const encode = reusingEncoder(codec);
    const messages = [message('device-large', 40), message('d', 1), message('device-2', 3)];
    const answers = messages.map((m) => encode(m));
    // a later call does not write into an earlier answer
    expect(answers.map((a) => Buffer.from(a).toString('hex'))).toEqual(
      messages.map((m) => Buffer.from(codec.encode(m).finish()).toString('hex')),
    );
    expect(codec.decode(answers[1]!).deviceId).toBe('d');
    expect(answers[0]!.byteLength).toBeGreaterThan(500);
  });
});
