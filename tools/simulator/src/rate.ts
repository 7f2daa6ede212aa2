/**
 * Open-loop pacing at a fixed rate: operations are due at start + i / rate, whether the earlier
 * ones finished or not, so a slow city shows up as operations running late (`behind`), not as a
 * quietly lower rate. At most `maxInFlight` run at once; what cannot start is counted as skipped
 * rather than queued without bound.
 */
export class Pacer {
  private started = 0;
  private skippedCount = 0;

  constructor(
    /** Operations per second; 0: none. */
    readonly rate: number,
    readonly startMs: number,
    readonly maxInFlight: number,
  ) {
    if (!Number.isFinite(rate) || rate < 0) throw new Error(`rate must be a number >= 0 (got ${rate})`);
    if (!Number.isInteger(maxInFlight) || maxInFlight < 1) throw new Error('maxInFlight must be >= 1');
  }

  /** How many operations were due by `nowMs` in all. */
  dueBy(nowMs: number): number {
    if (this.rate === 0 || nowMs < this.startMs) return 0;
    return Math.floor(((nowMs - this.startMs) * this.rate) / 1000) + 1;
  }

  /**
   * How many operations to start now, given how many are running: the due ones, within the
   * in-flight limit; due ones beyond the limit are skipped (counted, never started).
   */
  take(nowMs: number, inFlight: number): number {
    const due = this.dueBy(nowMs) - this.started - this.skippedCount;
    if (due <= 0) return 0;
    const room = Math.max(0, this.maxInFlight - inFlight);
    const start = Math.min(due, room);
    this.started += start;
    this.skippedCount += due - start;
    return start;
  }

  /** Milliseconds until the next operation is due (for the loop's sleep); Infinity at rate 0. */
  msUntilNext(nowMs: number): number {
    if (this.rate === 0) return Infinity;
    const next = this.started + this.skippedCount;
    const at = this.startMs + (next * 1000) / this.rate;
    return Math.max(0, Math.ceil(at - nowMs));
  }

  get startedCount(): number {
    return this.started;
  }

  get skipped(): number {
    return this.skippedCount;
  }
}
