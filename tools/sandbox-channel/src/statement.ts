// The daily statement: a merchant's successful payments and refunds of one day in the provider's
// time zone (UTC+8), with the provider's fee of 0.6% rounded half up to whole minor units.
import { paramError } from './errors';

export const STATEMENT_HEADER = 'kind,transaction_id,out_trade_no,out_refund_no,amount,fee,at';

/** The provider's time zone: UTC+8, no daylight saving. */
const OFFSET_MS = 8 * 3_600_000;

export interface StatementLine {
  kind: 'PAYMENT' | 'REFUND';
  transactionId: string;
  outTradeNo: string;
  outRefundNo?: string;
  amount: bigint;
  at: Date;
}

/** 0.6% of a positive amount, rounded half up: 83 -> 0 (0.498), 84 -> 1 (0.504), 250 -> 2 (1.5). */
export function feeOf(amount: bigint): bigint {
  if (amount < 0n) throw new RangeError('fee of a negative amount');
  return (amount * 6n + 500n) / 1000n;
}

/** [start, end) of a YYYY-MM-DD day in UTC+8, as epoch milliseconds. */
export function dayRange(day: string): { start: number; end: number } {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(day);
  const utcMidnight = m ? Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])) : NaN;
  // Date.UTC rolls 2025-02-30 over to March: a real day formats back to itself.
  if (!m || Number.isNaN(utcMidnight) || new Date(utcMidnight).toISOString().slice(0, 10) !== day) {
    throw paramError('day', 'must be a date YYYY-MM-DD');
  }
  const start = utcMidnight - OFFSET_MS;
  return { start, end: start + 86_400_000 };
}

/** The CSV text of a day: lines in time order, amounts and fees as positive integers, `at` in ISO UTC. */
export function renderStatement(lines: readonly StatementLine[]): string {
  const sorted = [...lines].sort(
    (a, b) =>
      a.at.getTime() - b.at.getTime() ||
      a.kind.localeCompare(b.kind) ||
      a.outTradeNo.localeCompare(b.outTradeNo) ||
      (a.outRefundNo ?? '').localeCompare(b.outRefundNo ?? ''),
  );
  const rows = sorted.map((l) =>
    [
      l.kind,
      l.transactionId,
      l.outTradeNo,
      l.outRefundNo ?? '',
      l.amount,
      feeOf(l.amount),
      l.at.toISOString(),
    ].join(','),
  );
  return [STATEMENT_HEADER, ...rows].join('\n') + '\n';
}
