import {
  calendarDayUtcMs,
  CHANNEL_ID,
  DomainError,
  requestId,
  requiredString,
  TENANT_ID,
} from '@citybase/platform';
import {
  ImportChannelStatementRequest,
  ReconciliationIssue,
} from '@citybase/contracts/citybase/settlement/v1/settlement';

/**
 * Reconciliation of a channel's daily statement with the ledger's clearing postings
 * (docs/settlement-payouts.md): parsing and validating the CSV, and matching its lines against the
 * postings. Pure: no I/O.
 */

export const STATEMENT_HEADER = 'kind,transaction_id,out_trade_no,out_refund_no,amount,fee,at';
/** The proto's limit on the statement file: below gRPC's 8 MB message limit, with room for the other fields. */
export const MAX_STATEMENT_CHARS = 7 * 1024 * 1024;
/** The channels' time zone (UTC+8, no daylight saving): statement days are its days. */
export const CHANNEL_UTC_OFFSET_HOURS = 8;

export interface ImportStatementCommand {
  requestId: string;
  operatorId: string;
  projectId: string;
  channelId: string;
  day: string;
  csv: string;
}

/** Validates the request fields (the CSV itself is parsed by parseStatement). */
export function toImportStatementCommand(req: ImportChannelStatementRequest): ImportStatementCommand {
  const cmd = {
    requestId: requestId(req.requestId),
    operatorId: requiredString('operator_id', req.operatorId, TENANT_ID),
    projectId: requiredString('project_id', req.projectId, TENANT_ID),
    channelId: requiredString('channel_id', req.channelId, CHANNEL_ID),
    day: requiredString('day', req.day, { max: 10 }),
  };
  dayRange(cmd.day);
  const csv = req.csv ?? '';
  if (csv.trim() === '') throw DomainError.invalid('csv', 'is required');
  if (csv.length > MAX_STATEMENT_CHARS) throw DomainError.invalid('csv', 'must be at most 7 MB');
  return { ...cmd, csv };
}

/** [start, end) of a day in UTC+8, as instants. */
export function dayRange(day: string): { start: Date; end: Date } {
  const midnightUtc = calendarDayUtcMs(day);
  if (midnightUtc === undefined) throw DomainError.invalid('day', 'must be a date YYYY-MM-DD');
  const start = midnightUtc - CHANNEL_UTC_OFFSET_HOURS * 3_600_000;
  return { start: new Date(start), end: new Date(start + 24 * 3_600_000) };
}

// ---- parsing ----

export type StatementKind = 'PAYMENT' | 'REFUND';

export interface StatementLine {
  /** 1-based line of the file (the header is line 1). */
  lineNo: number;
  kind: StatementKind;
  transactionId: string;
  outTradeNo: string;
  outRefundNo: string;
  /** Positive; the kind says the direction. */
  amountMinor: bigint;
  /** What the channel kept (a refund's fee is what it gives back). */
  feeMinor: bigint;
  at: Date;
}

const REF = /^[\x21-\x7e]{1,64}$/;
const AMOUNT = /^[1-9][0-9]{0,17}$/;
const FEE = /^(0|[1-9][0-9]{0,17})$/;
const AT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?(Z|[+-]\d{2}:\d{2})$/;

/**
 * Parses and validates a whole statement. The first problem is an INVALID_ARGUMENT on field `csv`
 * naming the line and the rule ("csv line 3: amount must be a positive integer"), so a file is taken
 * entirely or not at all.
 */
export function parseStatement(csv: string, day: string): StatementLine[] {
  const { start, end } = dayRange(day);
  const text = csv.startsWith('\uFEFF') ? csv.slice(1) : csv;
  const rows = text.split('\n').map((r) => (r.endsWith('\r') ? r.slice(0, -1) : r));
  // one line end after the last line is usual; more empty lines are not
  if (rows.length > 1 && rows[rows.length - 1] === '') rows.pop();
  const fail = (lineNo: number, rule: string): never => {
    throw DomainError.invalid('csv', `line ${lineNo}: ${rule}`, 'STATEMENT_INVALID');
  };
  if (rows[0] !== STATEMENT_HEADER) fail(1, `the header must be "${STATEMENT_HEADER}"`);
  const lines: StatementLine[] = [];
  for (let i = 1; i < rows.length; i++) {
    const lineNo = i + 1;
    const row = rows[i]!;
    if (row.trim() === '') fail(lineNo, 'is empty');
    const fields = row.split(',');
    if (fields.length !== 7) fail(lineNo, `must have 7 fields, has ${fields.length}`);
    const [kind = '', transactionId = '', outTradeNo = '', outRefundNo = '', amount = '', fee = '', at = ''] =
      fields;
    if (kind !== 'PAYMENT' && kind !== 'REFUND') fail(lineNo, 'kind must be PAYMENT or REFUND');
    if (!REF.test(transactionId)) fail(lineNo, 'transaction_id must be 1-64 printable characters');
    if (!REF.test(outTradeNo)) fail(lineNo, 'out_trade_no must be 1-64 printable characters');
    if (kind === 'PAYMENT' && outRefundNo !== '') fail(lineNo, 'out_refund_no must be empty on a PAYMENT');
    if (kind === 'REFUND' && !REF.test(outRefundNo))
      fail(lineNo, 'out_refund_no must be 1-64 printable characters on a REFUND');
    if (!AMOUNT.test(amount)) fail(lineNo, 'amount must be a positive integer of minor units');
    if (!FEE.test(fee)) fail(lineNo, 'fee must be a non-negative integer of minor units');
    const amountMinor = BigInt(amount);
    const feeMinor = BigInt(fee);
    if (amountMinor > 9_223_372_036_854_775_807n) fail(lineNo, 'amount is too large');
    if (feeMinor > amountMinor) fail(lineNo, 'fee must not exceed amount');
    const when = AT.test(at) ? new Date(at) : undefined;
    if (!when || Number.isNaN(when.getTime())) fail(lineNo, 'at must be an ISO 8601 time');
    if (when!.getTime() < start.getTime() || when!.getTime() >= end.getTime())
      fail(lineNo, `at must be on ${day} (UTC+8)`);
    lines.push({
      lineNo,
      kind: kind as StatementKind,
      transactionId,
      outTradeNo,
      outRefundNo,
      amountMinor,
      feeMinor,
      at: when!,
    });
  }
  return lines;
}

// ---- matching ----

/** A clearing posting of the day: one ledger transaction's entry on the channel's clearing account. */
export interface ClearingPosting {
  txId: string;
  /** ledger_transactions.reference: the payment id (of refunds too). */
  reference: string;
  /** Ids in the transaction's idempotency key other than the reference: a refund's id, if any. */
  refundIds: string[];
  /** Signed, debit positive: a payment's money arriving is positive, a refund's leaving negative. */
  amountMinor: bigint;
}

export interface Difference {
  issue: ReconciliationIssue;
  reference: string;
  channelTransactionId: string;
  /** Magnitudes; undefined when that side has nothing. */
  ledgerAmount: bigint | undefined;
  statementAmount: bigint | undefined;
}

export interface MatchResult {
  matchedOneToOne: number;
  matchedOneToMany: number;
  matchedManyToOne: number;
  differences: Difference[];
  /** Net, payments minus refunds. */
  statementTotal: bigint;
  ledgerTotal: bigint;
  fees: bigint;
}

/** Above this many unmatched items in one group, subset matching is skipped (2^n sums). */
export const MAX_SUBSET_ITEMS = 16;

interface Item<T> {
  value: T;
  amount: bigint;
  used: boolean;
}

/**
 * Matches statement lines with clearing postings. Both sides are grouped by payment (out_trade_no /
 * reference) and direction (PAYMENT lines with debits of clearing, REFUND lines with credits), and
 * within a group:
 * 1. one-to-one: a line and a posting of the same amount (for refunds, ones naming the same refund id
 *    are paired first);
 * 2. one-to-many: a line equal to the sum of two or more postings;
 * 3. many-to-one: two or more lines equal to one posting;
 * 4. what is left: lines and postings both left in a group -> one MISMATCHED (their sums); only
 *    postings -> MISSING each; only lines -> EXTRA each.
 */
export function matchStatement(lines: StatementLine[], postings: ClearingPosting[]): MatchResult {
  const groups = new Map<string, { lines: Item<StatementLine>[]; postings: Item<ClearingPosting>[] }>();
  const group = (key: string) => {
    let g = groups.get(key);
    if (!g) groups.set(key, (g = { lines: [], postings: [] }));
    return g;
  };
  let statementTotal = 0n;
  let fees = 0n;
  for (const line of lines) {
    const sign = line.kind === 'PAYMENT' ? 1n : -1n;
    statementTotal += sign * line.amountMinor;
    fees += sign * line.feeMinor;
    group(`${line.kind}\u0000${line.outTradeNo}`).lines.push({
      value: line,
      amount: line.amountMinor,
      used: false,
    });
  }
  let ledgerTotal = 0n;
  for (const p of postings) {
    if (p.amountMinor === 0n) continue;
    ledgerTotal += p.amountMinor;
    const kind: StatementKind = p.amountMinor > 0n ? 'PAYMENT' : 'REFUND';
    group(`${kind}\u0000${p.reference}`).postings.push({
      value: p,
      amount: p.amountMinor > 0n ? p.amountMinor : -p.amountMinor,
      used: false,
    });
  }

  let matchedOneToOne = 0;
  let matchedOneToMany = 0;
  let matchedManyToOne = 0;
  const differences: Difference[] = [];
  const keys = [...groups.keys()].sort();
  for (const key of keys) {
    const g = groups.get(key)!;
    const open = <T>(items: Item<T>[]) => items.filter((i) => !i.used);
    // 1. one-to-one, refund ids first
    for (const pass of ['same-refund', 'amount'] as const) {
      for (const line of open(g.lines)) {
        const partner = open(g.postings).find(
          (p) =>
            p.amount === line.amount &&
            (pass === 'amount' || p.value.refundIds.includes(line.value.outRefundNo)),
        );
        if (partner) {
          line.used = partner.used = true;
          matchedOneToOne++;
        }
      }
    }
    // 2. one line = several postings
    for (const line of open(g.lines)) {
      const subset = subsetSumming(open(g.postings), line.amount);
      if (subset) {
        line.used = true;
        for (const p of subset) p.used = true;
        matchedOneToMany++;
      }
    }
    // 3. several lines = one posting
    for (const posting of open(g.postings)) {
      const subset = subsetSumming(open(g.lines), posting.amount);
      if (subset) {
        posting.used = true;
        for (const l of subset) l.used = true;
        matchedManyToOne++;
      }
    }
    // 4. differences
    const lines = open(g.lines);
    const posts = open(g.postings);
    const refundRef = (p: ClearingPosting) => (p.amountMinor < 0n && p.refundIds[0]) || p.reference;
    const lineRef = (l: StatementLine) => (l.kind === 'REFUND' ? l.outRefundNo : l.outTradeNo);
    if (lines.length > 0 && posts.length > 0) {
      const refs = new Set([...lines.map((l) => lineRef(l.value)), ...posts.map((p) => refundRef(p.value))]);
      const first = lines[0]!.value;
      differences.push({
        issue: ReconciliationIssue.RECONCILIATION_ISSUE_MISMATCHED,
        reference: refs.size === 1 ? [...refs][0]! : first.outTradeNo,
        channelTransactionId: first.transactionId,
        ledgerAmount: posts.reduce((s, p) => s + p.amount, 0n),
        statementAmount: lines.reduce((s, l) => s + l.amount, 0n),
      });
    } else {
      for (const p of posts)
        differences.push({
          issue: ReconciliationIssue.RECONCILIATION_ISSUE_MISSING,
          reference: refundRef(p.value),
          channelTransactionId: '',
          ledgerAmount: p.amount,
          statementAmount: undefined,
        });
      for (const l of lines)
        differences.push({
          issue: ReconciliationIssue.RECONCILIATION_ISSUE_EXTRA,
          reference: lineRef(l.value),
          channelTransactionId: l.value.transactionId,
          ledgerAmount: undefined,
          statementAmount: l.amount,
        });
    }
  }
  // missing, extra, mismatched; by reference within each
  differences.sort(
    (a, b) => a.issue - b.issue || (a.reference < b.reference ? -1 : a.reference > b.reference ? 1 : 0),
  );
  return {
    matchedOneToOne,
    matchedOneToMany,
    matchedManyToOne,
    differences,
    statementTotal,
    ledgerTotal,
    fees,
  };
}

/**
 * Two or more of `items` summing exactly to `target`, preferring fewer items; undefined if there is
 * none, or if there are too many items to search.
 */
function subsetSumming<T>(items: Item<T>[], target: bigint): Item<T>[] | undefined {
  const candidates = items.filter((i) => i.amount <= target);
  if (candidates.length < 2 || candidates.length > MAX_SUBSET_ITEMS) return undefined;
  let best: number | undefined;
  let bestSize = Infinity;
  for (let mask = 1; mask < 1 << candidates.length; mask++) {
    const size = popcount(mask);
    if (size < 2 || size >= bestSize) continue;
    let sum = 0n;
    for (let i = 0; i < candidates.length; i++) if (mask & (1 << i)) sum += candidates[i]!.amount;
    if (sum === target) {
      best = mask;
      bestSize = size;
    }
  }
  if (best === undefined) return undefined;
  return candidates.filter((_c, i) => best! & (1 << i));
}

function popcount(n: number): number {
  let c = 0;
  for (let x = n; x; x &= x - 1) c++;
  return c;
}

const UUID_IN = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/gi;

/**
 * The ids a ledger transaction's idempotency key names besides its reference: for a refund posted as
 * e.g. `order:<payment_id>:refund:<refund_id>`, the refund id.
 */
export function idsInKey(idempotencyKey: string, reference: string): string[] {
  return (idempotencyKey.match(UUID_IN) ?? [])
    .map((id) => id.toLowerCase())
    .filter((id) => id !== reference.toLowerCase());
}
