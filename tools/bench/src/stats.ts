// Pure helpers of the benchmarks: percentiles, rates, rounding, environment parameters, tables.

/**
 * Nearest-rank percentile: the smallest value such that at least p% of the values are <= it.
 * `sorted` must be in ascending order; p in (0, 100].
 */
export function percentileOfSorted(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) throw new RangeError('percentile of no values');
  if (!(p > 0 && p <= 100)) throw new RangeError(`percentile must be in (0, 100], got ${p}`);
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1];
}

/** Nearest-rank percentiles of unsorted values (sorted once, the input is left alone). */
export function percentiles(values: readonly number[], ps: readonly number[]): number[] {
  const sorted = [...values].sort((a, b) => a - b);
  return ps.map((p) => percentileOfSorted(sorted, p));
}

/** Events per second for `count` events over `elapsedMs` milliseconds. */
export function perSecond(count: number, elapsedMs: number): number {
  if (!(elapsedMs > 0)) throw new RangeError(`elapsed time must be positive, got ${elapsedMs} ms`);
  return (count * 1000) / elapsedMs;
}

export function round(value: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

export class BenchConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BenchConfigError';
  }
}

/** A positive integer from the environment (e.g. BENCH_EVENTS=20000 or 20_000), else the default. */
export function intFromEnv(env: NodeJS.ProcessEnv, name: string, fallback: number, min = 1): number {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  const text = raw.trim().replace(/_/g, '');
  if (!/^\d+$/.test(text)) throw new BenchConfigError(`${name}: must be a whole number, got "${raw}"`);
  const value = Number(text);
  if (!Number.isSafeInteger(value) || value < min)
    throw new BenchConfigError(`${name}: must be at least ${min}, got "${raw}"`);
  return value;
}

/** pgbench's throughput line: "tps = 1234.567890 (without initial connection time)". */
export function parsePgbenchTps(output: string): number {
  const matches = [...output.matchAll(/^tps = (\d+(?:\.\d+)?)/gm)];
  if (matches.length === 0) throw new Error(`no "tps = ..." line in pgbench output:\n${output}`);
  // pgbench before 14 printed two lines (including / excluding connections); the last excludes them.
  return Number(matches[matches.length - 1][1]);
}

/** A plain-text table: columns padded to their widest cell, a rule under the header. */
export function formatTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i])))
      .join('  ')
      .trimEnd();
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}
