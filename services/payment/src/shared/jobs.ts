// Helpers of the payment service's background jobs (the channel-poll job of payments, the
// instruction executor of instructions). Pure.

/**
 * When a job looks at an open item next, after `checks` looks: soon at first (`intervalMs`), then
 * doubling, up to five minutes (or the interval, if longer). The channel-poll job never looks later
 * than a payment's expiry.
 */
export function nextCheckDelayMs(checks: number, intervalMs: number): number {
  const maxMs = Math.max(intervalMs, 300_000);
  return Math.min(intervalMs * 2 ** Math.min(checks, 12), maxMs);
}
