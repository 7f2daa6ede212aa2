import { ChannelKind } from '@citybase/contracts/citybase/payment/v1/payment';
import type { ChannelAdapter } from './channel-adapter';

/**
 * The channel adapters of this build, by kind. A channel of a kind without an adapter cannot be
 * registered or enabled, and is never routed to.
 */
export class ChannelAdapters {
  constructor(private readonly byKind: ReadonlyMap<ChannelKind, ChannelAdapter>) {}

  get(kind: ChannelKind): ChannelAdapter | undefined {
    return this.byKind.get(kind);
  }

  has(kind: ChannelKind): boolean {
    return this.byKind.has(kind);
  }

  kinds(): ChannelKind[] {
    return [...this.byKind.keys()];
  }
}

/** "CHANNEL_KIND_SANDBOX" for ChannelKind.CHANNEL_KIND_SANDBOX; the number for an unknown value. */
export function kindName(kind: ChannelKind): string {
  return ChannelKind[kind] ?? String(kind);
}
