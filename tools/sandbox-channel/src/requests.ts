// Parsing of the JSON bodies of the API into typed inputs. The first problem found is answered as
// 400 PARAM_ERROR "<field>: <rule>"; nothing is looked up or written before a body parses.
import { paramError } from './errors';

export interface CreateOrderInput {
  outTradeNo: string;
  amount: bigint;
  currency: string;
  description: string;
  notifyUrl: string;
  expireAt: Date;
  profitSharing: boolean;
}

export interface RefundInput {
  outTradeNo: string;
  outRefundNo: string;
  amount: bigint;
  total: bigint;
  reason: string;
  notifyUrl: string;
}

export interface SplitReceiverInput {
  account: string;
  amount: bigint;
  description: string;
}

export interface SplitInput {
  outTradeNo: string;
  outSplitNo: string;
  receivers: SplitReceiverInput[];
  unfreezeRest: boolean;
}

export interface UnfreezeInput {
  outTradeNo: string;
  outSplitNo: string;
}

export interface SplitReturnInput {
  outTradeNo: string;
  outSplitNo: string;
  outReturnNo: string;
  account: string;
  amount: bigint;
}

export type Outcome = 'success' | 'fail';

/** Largest amount: int64, as in Citybase's proto. */
const MAX_AMOUNT = 9_223_372_036_854_775_807n;
const ID_RULE = 'must be 1-64 characters of letters, digits, _ - . : | *';
const ID_PATTERN = /^[A-Za-z0-9_.:|*-]{1,64}$/;
const MAX_TEXT = 1024;
const MAX_RECEIVERS = 50;

type Json = Record<string, unknown>;

/** The raw body as a JSON object. */
export function parseJsonObject(raw: Buffer): Json {
  let value: unknown;
  try {
    value = JSON.parse(raw.toString('utf8'));
  } catch {
    throw paramError('body', 'must be valid JSON');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw paramError('body', 'must be a JSON object');
  }
  return value as Json;
}

function present(body: Json, field: string, path: string): unknown {
  const v = body[field];
  if (v === undefined || v === null) throw paramError(path, 'required');
  return v;
}

export function id(body: Json, field: string, path = field): string {
  const v = present(body, field, path);
  if (typeof v !== 'string' || !ID_PATTERN.test(v)) throw paramError(path, ID_RULE);
  return v;
}

/** A path segment that names an id (outTradeNo, outRefundNo). */
export function idSegment(value: string, field: string): string {
  if (!ID_PATTERN.test(value)) throw paramError(field, ID_RULE);
  return value;
}

function text(body: Json, field: string, path = field): string {
  const v = present(body, field, path);
  // eslint-disable-next-line no-control-regex
  if (typeof v !== 'string' || v.length > MAX_TEXT || /[\u0000-\u001f\u007f]/.test(v)) {
    throw paramError(path, `must be a string of at most ${MAX_TEXT} characters without control characters`);
  }
  return v;
}

function nonEmptyText(body: Json, field: string, path = field): string {
  const v = text(body, field, path);
  if (v.length === 0) throw paramError(path, 'must not be empty');
  return v;
}

/** Amounts are strings of positive integer minor units (int64). */
export function amount(body: Json, field: string, path = field): bigint {
  const v = present(body, field, path);
  if (typeof v !== 'string' || !/^[1-9][0-9]{0,18}$/.test(v) || BigInt(v) > MAX_AMOUNT) {
    throw paramError(path, 'must be a string of a positive integer number of minor units (at most int64)');
  }
  return BigInt(v);
}

function bool(body: Json, field: string): boolean {
  const v = present(body, field, field);
  if (typeof v !== 'boolean') throw paramError(field, 'must be true or false');
  return v;
}

function currency(body: Json, field: string): string {
  const v = present(body, field, field);
  if (typeof v !== 'string' || !/^[A-Z]{3}$/.test(v))
    throw paramError(field, 'must be an ISO 4217 code, e.g. CNY');
  return v;
}

function httpUrl(body: Json, field: string): string {
  const v = present(body, field, field);
  let url: URL | undefined;
  try {
    url = typeof v === 'string' && v.length <= 2048 ? new URL(v) : undefined;
  } catch {
    url = undefined;
  }
  if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:')) {
    throw paramError(field, 'must be an absolute http(s) URL of at most 2048 characters');
  }
  return v as string;
}

function instant(body: Json, field: string): Date {
  const v = present(body, field, field);
  const m =
    typeof v === 'string'
      ? /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(:(\d{2})(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/.exec(v)
      : null;
  const at = m ? new Date(v as string) : undefined;
  // Date parsing rolls 2025-02-30 over to March: the calendar day and clock must be real as written.
  const real =
    m !== null &&
    at !== undefined &&
    !Number.isNaN(at.getTime()) &&
    new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]))).getUTCDate() === Number(m[3]) &&
    Number(m[2]) >= 1 &&
    Number(m[2]) <= 12 &&
    Number(m[4]) <= 23 &&
    Number(m[5]) <= 59 &&
    Number(m[7] ?? 0) <= 59;
  if (!real) {
    throw paramError(field, 'must be an ISO 8601 date-time with a time zone, e.g. 2025-01-31T12:00:00Z');
  }
  return at;
}

export function parseCreateOrder(body: Json): CreateOrderInput {
  return {
    outTradeNo: id(body, 'outTradeNo'),
    amount: amount(body, 'amount'),
    currency: currency(body, 'currency'),
    description: text(body, 'description'),
    notifyUrl: httpUrl(body, 'notifyUrl'),
    expireAt: instant(body, 'expireAt'),
    profitSharing: bool(body, 'profitSharing'),
  };
}

export function parseRefund(body: Json): RefundInput {
  return {
    outTradeNo: id(body, 'outTradeNo'),
    outRefundNo: id(body, 'outRefundNo'),
    amount: amount(body, 'amount'),
    total: amount(body, 'total'),
    reason: text(body, 'reason'),
    notifyUrl: httpUrl(body, 'notifyUrl'),
  };
}

export function parseSplit(body: Json): SplitInput {
  const outTradeNo = id(body, 'outTradeNo');
  const outSplitNo = id(body, 'outSplitNo');
  const list = present(body, 'receivers', 'receivers');
  if (!Array.isArray(list) || list.length === 0 || list.length > MAX_RECEIVERS) {
    throw paramError('receivers', `must be a list of 1 to ${MAX_RECEIVERS} receivers`);
  }
  const seen = new Set<string>();
  const receivers = list.map((item: unknown, i): SplitReceiverInput => {
    const path = `receivers[${i}]`;
    if (typeof item !== 'object' || item === null || Array.isArray(item))
      throw paramError(path, 'must be an object');
    const r = item as Json;
    const account = nonEmptyText(r, 'account', `${path}.account`);
    if (seen.has(account)) throw paramError(`${path}.account`, 'must not repeat an earlier receiver');
    seen.add(account);
    return {
      account,
      amount: amount(r, 'amount', `${path}.amount`),
      description: text(r, 'description', `${path}.description`),
    };
  });
  return { outTradeNo, outSplitNo, receivers, unfreezeRest: bool(body, 'unfreezeRest') };
}

export function parseUnfreeze(body: Json): UnfreezeInput {
  return { outTradeNo: id(body, 'outTradeNo'), outSplitNo: id(body, 'outSplitNo') };
}

export function parseSplitReturn(body: Json): SplitReturnInput {
  return {
    outTradeNo: id(body, 'outTradeNo'),
    outSplitNo: id(body, 'outSplitNo'),
    outReturnNo: id(body, 'outReturnNo'),
    account: nonEmptyText(body, 'account'),
    amount: amount(body, 'amount'),
  };
}

export function parsePay(body: Json): Outcome {
  const v = present(body, 'outcome', 'outcome');
  if (v !== 'success' && v !== 'fail') throw paramError('outcome', 'must be "success" or "fail"');
  return v;
}

export function parseMerchant(body: Json): { merchantNo: string; key: string } {
  const merchantNo = id(body, 'merchantNo');
  const key = present(body, 'key', 'key');
  if (typeof key !== 'string' || key.length === 0 || key.length > 1024) {
    throw paramError('key', 'must be a non-empty string of at most 1024 characters');
  }
  return { merchantNo, key };
}
