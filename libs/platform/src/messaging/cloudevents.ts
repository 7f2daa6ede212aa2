import { context, propagation } from '@opentelemetry/api';
import { randomUUID } from 'crypto';
import type { IHeaders } from 'kafkajs';

/** CloudEvents 1.0 Kafka protocol binding, binary content mode: attributes travel as headers. */
export const CE = {
  specversion: 'ce_specversion',
  id: 'ce_id',
  source: 'ce_source',
  type: 'ce_type',
  time: 'ce_time',
  subject: 'ce_subject',
  contentType: 'content-type',
  traceparent: 'traceparent',
  tracestate: 'tracestate',
  tenant: 'citybase_tenant',
} as const;

export const PROTOBUF_CONTENT_TYPE = 'application/protobuf';

export interface Tenancy {
  operatorId?: string;
  projectId?: string;
  merchantId?: string;
}

export interface EventEnvelope {
  id: string;
  source: string;
  type: string;
  time: string;
  subject?: string;
  tenancy?: Tenancy;
  traceparent?: string;
  tracestate?: string;
}

export function newEnvelope(opts: {
  city: string;
  service: string;
  type: string;
  subject?: string;
  tenancy?: Tenancy;
  id?: string;
  time?: Date;
}): EventEnvelope {
  const carrier: Record<string, string> = {};
  propagation.inject(context.active(), carrier);
  return {
    id: opts.id ?? randomUUID(),
    source: `citybase://${opts.city}/${opts.service}`,
    type: opts.type,
    time: (opts.time ?? new Date()).toISOString(),
    subject: opts.subject,
    tenancy: opts.tenancy,
    traceparent: carrier.traceparent,
    tracestate: carrier.tracestate,
  };
}

/** Header values as Kafka carries them (strings). */
export function toHeaders(env: EventEnvelope): Record<string, string> {
  const h: Record<string, string> = {
    [CE.specversion]: '1.0',
    [CE.id]: env.id,
    [CE.source]: env.source,
    [CE.type]: env.type,
    [CE.time]: env.time,
    [CE.contentType]: PROTOBUF_CONTENT_TYPE,
  };
  if (env.subject) h[CE.subject] = env.subject;
  if (env.traceparent) h[CE.traceparent] = env.traceparent;
  if (env.tracestate) h[CE.tracestate] = env.tracestate;
  if (env.tenancy) h[CE.tenant] = JSON.stringify(env.tenancy);
  return h;
}

export class EnvelopeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'EnvelopeError';
  }
}

const headerString = (headers: IHeaders | undefined, name: string): string | undefined => {
  const v = headers?.[name];
  if (v === undefined || v === null) return undefined;
  const one = Array.isArray(v) ? v[0] : v;
  return one === undefined ? undefined : one.toString();
};

/** Reads and validates the CloudEvents attributes of a Kafka message. */
export function fromHeaders(headers: IHeaders | undefined): EventEnvelope {
  const get = (n: string) => headerString(headers, n);
  const specversion = get(CE.specversion);
  if (specversion !== '1.0')
    throw new EnvelopeError(`${CE.specversion}: must be 1.0, got ${specversion ?? 'nothing'}`);
  const contentType = get(CE.contentType);
  if (contentType !== PROTOBUF_CONTENT_TYPE)
    throw new EnvelopeError(
      `${CE.contentType}: must be ${PROTOBUF_CONTENT_TYPE}, got ${contentType ?? 'nothing'}`,
    );
  const required = (n: string) => {
    const v = get(n);
    if (!v) throw new EnvelopeError(`${n}: required`);
    return v;
  };
  const tenant = get(CE.tenant);
  let tenancy: Tenancy | undefined;
  if (tenant) {
    try {
      tenancy = JSON.parse(tenant) as Tenancy;
    } catch {
      throw new EnvelopeError(`${CE.tenant}: must be JSON`);
    }
  }
  return {
    id: required(CE.id),
    source: required(CE.source),
    type: required(CE.type),
    time: required(CE.time),
    subject: get(CE.subject),
    tenancy,
    traceparent: get(CE.traceparent),
    tracestate: get(CE.tracestate),
  };
}

export function headersToStrings(headers: IHeaders | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k of Object.keys(headers ?? {})) {
    const v = headerString(headers, k);
    if (v !== undefined) out[k] = v;
  }
  return out;
}
