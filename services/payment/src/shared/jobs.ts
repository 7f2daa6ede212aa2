// Helpers of the payment service's background jobs (the channel-poll job of payments, the
// instruction executor of instructions). Pure but for the calls they are given.

/**
 * When a job looks at an open item next, after `checks` looks: soon at first (`intervalMs`), then
 * doubling, up to five minutes (or the interval, if longer). The channel-poll job never looks later
 * than a payment's expiry.
 */
export function nextCheckDelayMs(checks: number, intervalMs: number): number {
  const maxMs = Math.max(intervalMs, 300_000);
  return Math.min(intervalMs * 2 ** Math.min(checks, 12), maxMs);
}

/** Runs `fn` over the items, at most `limit` at a time, until `stopped()`. */
export async function eachLimited<T>(
  items: readonly T[],
  limit: number,
  stopped: () => boolean,
  fn: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length && !stopped()) {
      const item = items[next++] as T;
      await fn(item);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}
