import { SetMetadata, Type } from '@nestjs/common';
import type { DiscoveryService } from '@nestjs/core';
import type {
  EventHandler,
  EventType,
  GroupHandler,
  HandlerOptions,
  InboxConsumerOptions,
} from '../messaging';

const EVENT_CONSUMER = 'citybase:event-consumer';

/** Registers one handler per event type with the consumer (`only`: see HandlerOptions). */
export type Subscribe = <T>(type: EventType<T>, handle: EventHandler<T>, options?: HandlerOptions<T>) => void;

/**
 * Registers a handler that applies runs of consecutive events of one type at once, in the
 * transaction that records them in the inbox (InboxConsumer.onGroup: e.g. one multi-row insert).
 */
export type SubscribeGroup = <T>(type: EventType<T>, group: GroupHandler<T>) => void;

/**
 * A feature's event handlers: `subscribe` names each event type it applies and its handler
 * (`on`), or its group handler (`onGroup`) for consumers that write many events per statement.
 */
export interface EventSubscriber {
  subscribe(on: Subscribe, onGroup: SubscribeGroup): void;
}

/**
 * Marks a provider of a feature module as (part of) the inbox consumer `name`
 * (e.g. "settlement.escrow": its consumer group, inbox rows and dead-letter topic). runService
 * finds every such provider of the app and starts one InboxConsumer per name: consumers are
 * registered by their feature module, not wired by hand in main.ts.
 */
export const EventConsumer = (name: string, options: ConsumerTuning = {}): ClassDecorator =>
  SetMetadata(EVENT_CONSUMER, { name, options });

/** Retry and batching settings of a consumer (InboxConsumerOptions); defaults suit most. */
export type ConsumerTuning = Pick<InboxConsumerOptions, 'maxAttempts' | 'retryBaseMs' | 'groupSize'>;

export interface DiscoveredConsumer {
  name: string;
  options: ConsumerTuning;
  subscribers: EventSubscriber[];
}

/** The app's consumers: subscribers grouped by consumer name (in provider order). */
export function discoverEventConsumers(discovery: DiscoveryService): DiscoveredConsumer[] {
  const byName = new Map<string, DiscoveredConsumer>();
  for (const wrapper of discovery.getProviders()) {
    const type = wrapper.metatype as Type<unknown> | undefined;
    if (!type || !wrapper.instance || wrapper.isAlias) continue;
    const meta = Reflect.getMetadata(EVENT_CONSUMER, type) as
      { name: string; options: ConsumerTuning } | undefined;
    if (meta === undefined) continue;
    const { name, options } = meta;
    const instance = wrapper.instance as Partial<EventSubscriber>;
    if (typeof instance.subscribe !== 'function')
      throw new Error(`${type.name} is an @EventConsumer('${name}') without subscribe()`);
    const found = byName.get(name) ?? { name, options: {}, subscribers: [] };
    found.options = { ...found.options, ...options };
    found.subscribers.push(instance as EventSubscriber);
    byName.set(name, found);
  }
  return [...byName.values()];
}
