import { OP_KINDS, OpKind } from './scenario';

/** Counters of one operation kind. */
export interface KindTotals {
  ok: number;
  failed: number;
  /** Expected refusals that are answers of the city, not errors (e.g. a sold-out flash sale). */
  refused: number;
  /** Sum of the latencies of the finished ones (ms), for the mean. */
  latencyMsSum: number;
}

export interface StatsSnapshot {
  /** Milliseconds since the day of life began. */
  elapsedMs: number;
  targetRate: number;
  /** Finished operations per second over the last `windowS` seconds, and since the start. */
  recentRate: number;
  overallRate: number;
  windowS: number;
  inFlight: number;
  /** Operations under way, per kind (those still running when a run ends never finished). */
  inFlightKinds: Partial<Record<OpKind, number>>;
  /** Due operations not started because too many were running (the city could not keep up). */
  skipped: number;
  kinds: Record<OpKind, KindTotals>;
  /** Distinct error messages with their counts, most frequent first (at most 5). */
  topErrors: { message: string; count: number }[];
}

const emptyKinds = (): Record<OpKind, KindTotals> =>
  Object.fromEntries(OP_KINDS.map((k) => [k, { ok: 0, failed: 0, refused: 0, latencyMsSum: 0 }])) as Record<
    OpKind,
    KindTotals
  >;

/** What the day of life did so far: totals per kind, a sliding window of finishes, the errors. */
export class Stats {
  readonly kinds = emptyKinds();
  private readonly errors = new Map<string, number>();
  /** Finish times (ms) within the window. */
  private recent: number[] = [];
  inFlight = 0;
  skipped = 0;

  constructor(
    readonly startMs: number,
    readonly targetRate: number,
    readonly windowS = 10,
  ) {}

  private readonly running = new Map<OpKind, number>();

  begin(kind?: OpKind): void {
    this.inFlight += 1;
    if (kind) this.running.set(kind, (this.running.get(kind) ?? 0) + 1);
  }

  finish(
    kind: OpKind,
    outcome: 'ok' | 'refused' | 'failed',
    latencyMs: number,
    nowMs: number,
    error?: string,
  ): void {
    this.inFlight -= 1;
    const n = this.running.get(kind) ?? 0;
    if (n > 1) this.running.set(kind, n - 1);
    else this.running.delete(kind);
    const k = this.kinds[kind];
    k[outcome] += 1;
    k.latencyMsSum += latencyMs;
    if (outcome === 'failed') {
      const message = `${kind}: ${(error ?? 'failed').slice(0, 160)}`;
      this.errors.set(message, (this.errors.get(message) ?? 0) + 1);
    }
    this.recent.push(nowMs);
  }

  get finished(): number {
    return OP_KINDS.reduce(
      (acc, k) => acc + this.kinds[k].ok + this.kinds[k].refused + this.kinds[k].failed,
      0,
    );
  }

  get failed(): number {
    return OP_KINDS.reduce((acc, k) => acc + this.kinds[k].failed, 0);
  }

  snapshot(nowMs: number): StatsSnapshot {
    const from = nowMs - this.windowS * 1000;
    this.recent = this.recent.filter((t) => t > from);
    const elapsedMs = Math.max(0, nowMs - this.startMs);
    const windowMs = Math.min(this.windowS * 1000, elapsedMs);
    return {
      elapsedMs,
      targetRate: this.targetRate,
      recentRate: windowMs > 0 ? (this.recent.length * 1000) / windowMs : 0,
      overallRate: elapsedMs > 0 ? (this.finished * 1000) / elapsedMs : 0,
      windowS: this.windowS,
      inFlight: this.inFlight,
      inFlightKinds: Object.fromEntries(this.running),
      skipped: this.skipped,
      kinds: structuredClone(this.kinds),
      topErrors: [...this.errors.entries()]
        .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
        .slice(0, 5)
        .map(([message, count]) => ({ message, count })),
    };
  }
}

const fmtDuration = (ms: number): string => {
  const s = Math.floor(ms / 1000);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  return `${String(h).padStart(2, '0')}:${String(m).padStart(2, '0')}:${String(s % 60).padStart(2, '0')}`;
};

/** The one-screen summary (a terminal redraws it in place). */
export function renderSummary(s: StatsSnapshot, title = 'Citybase city simulator'): string[] {
  const lines = [
    `${title}   running ${fmtDuration(s.elapsedMs)}   target ${s.targetRate} ops/s   ` +
      `now ${s.recentRate.toFixed(1)} ops/s (last ${s.windowS}s)   overall ${s.overallRate.toFixed(2)} ops/s`,
    `in flight ${s.inFlight}   skipped (city behind) ${s.skipped}`,
    `  ${'operation'.padEnd(10)} ${'ok'.padStart(8)} ${'refused'.padStart(8)} ${'errors'.padStart(8)} ${'mean ms'.padStart(8)}`,
  ];
  let ok = 0;
  let refused = 0;
  let failed = 0;
  for (const kind of OP_KINDS) {
    const k = s.kinds[kind];
    const n = k.ok + k.refused + k.failed;
    ok += k.ok;
    refused += k.refused;
    failed += k.failed;
    const mean = n > 0 ? String(Math.round(k.latencyMsSum / n)) : '-';
    lines.push(
      `  ${kind.padEnd(10)} ${String(k.ok).padStart(8)} ${String(k.refused).padStart(8)} ${String(k.failed).padStart(8)} ${mean.padStart(8)}`,
    );
  }
  lines.push(
    `  ${'total'.padEnd(10)} ${String(ok).padStart(8)} ${String(refused).padStart(8)} ${String(failed).padStart(8)}`,
  );
  if (s.topErrors.length === 0) lines.push('errors: none');
  else {
    lines.push('errors:');
    for (const e of s.topErrors) lines.push(`  ${String(e.count).padStart(6)} x ${e.message}`);
  }
  return lines;
}

/** One plain line (stdout is not a terminal: logs, CI). */
export function renderLine(s: StatsSnapshot): string {
  const parts = OP_KINDS.map(
    (k) => `${k}=${s.kinds[k].ok}${s.kinds[k].failed ? `/${s.kinds[k].failed}!` : ''}`,
  );
  return (
    `[simulator] ${fmtDuration(s.elapsedMs)} ${s.recentRate.toFixed(1)} ops/s (target ${s.targetRate}) ` +
    `in-flight=${s.inFlight} skipped=${s.skipped} ${parts.join(' ')}` +
    (s.topErrors[0] ? ` last-error="${s.topErrors[0].message}"` : '')
  );
}
