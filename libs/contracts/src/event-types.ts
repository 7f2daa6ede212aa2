import { BinaryWriter } from '@bufbuild/protobuf/wire';
/** Topic of a domain's business facts (ARCHITECTURE.md section 4). */
export const eventsTopic = (domain: string): string => `citybase.${domain}.events.v1`;

/** What ts-proto generates for every message: a protobuf codec. */
export interface MessageCodec<T> {
  /** `writer`: one to write into instead of a new one (its finish() answers a copy and resets it). */
  encode(message: T, writer?: BinaryWriter): { finish(): Uint8Array };
  decode(input: Uint8Array): T;
}

/**
 * Encodes messages of one type with one writer kept between calls, for a path that encodes many
 * (a new writer grows its buffer from 128 bytes for every message): each call answers its own copy.
 */
export function reusingEncoder<T>(codec: MessageCodec<T>): (message: T) => Uint8Array {
  const writer = new BinaryWriter();
  return (message) => codec.encode(message, writer).finish();
}

/**
 * An event type bound to its codec and its topic. The topic is derived from the type's package
 * (`citybase.<domain>.v1.X` goes to `citybase.<domain>.events.v1`) unless the domain declares one of
 * its own special topics, so a producer or consumer cannot pair a type with another domain's topic.
 */
export interface EventType<T> {
  readonly type: string;
  readonly domain: string;
  readonly topic: string;
  readonly codec: MessageCodec<T>;
}

const TYPE_NAME = /^citybase\.([a-z]+)\.v(\d+)\.([A-Z][A-Za-z0-9]*)$/;

/** Topics a domain may use besides its events topic (ARCHITECTURE.md section 4). */
const EXTRA_TOPICS: Record<string, readonly string[]> = {
  iot: ['citybase.iot.telemetry.v1', 'citybase.iot.alarms.v1'],
};

export function defineEvent<T>(type: string, codec: MessageCodec<T>, topic?: string): EventType<T> {
  const m = TYPE_NAME.exec(type);
  if (!m) throw new Error(`event type ${type}: must look like citybase.<domain>.v<N>.<MessageName>`);
  const domain = m[1];
  const resolvedTopic = topic ?? eventsTopic(domain);
  if (resolvedTopic !== eventsTopic(domain) && !(EXTRA_TOPICS[domain] ?? []).includes(resolvedTopic)) {
    throw new Error(`event type ${type}: topic ${resolvedTopic} does not belong to domain ${domain}`);
  }
  return Object.freeze({ type, domain, topic: resolvedTopic, codec });
}

/** A set of event types looked up by their CloudEvents type. */
export class EventRegistry {
  private readonly byType = new Map<string, EventType<unknown>>();

  constructor(types: readonly EventType<unknown>[] = []) {
    for (const t of types) this.add(t);
  }

  add(t: EventType<unknown>): this {
    const existing = this.byType.get(t.type);
    if (existing && existing !== t) throw new Error(`event type ${t.type} registered twice`);
    this.byType.set(t.type, t);
    return this;
  }

  get(type: string): EventType<unknown> | undefined {
    return this.byType.get(type);
  }

  types(): EventType<unknown>[] {
    return [...this.byType.values()];
  }

  topics(): string[] {
    return [...new Set([...this.byType.values()].map((t) => t.topic))];
  }
}
