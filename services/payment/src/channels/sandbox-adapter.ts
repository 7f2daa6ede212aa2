import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import {
  ChannelAccount,
  ChannelAdapter,
  ChannelNotification,
  ChannelOrder,
  ChannelOrderStatus,
  ChannelRefund,
  ChannelRefundStatus,
  ChannelRejectedError,
  ChannelSignatureError,
  ChannelUnavailableError,
  CreateOrderInput,
  RefundInput,
  SplitReceiver,
  SplitResult,
  StatementLine,
} from './channel-adapter';

/** How far a notification's timestamp may be from our clock (docs/sandbox-channel.md). */
export const NOTIFICATION_MAX_AGE_SECONDS = 300;

const H_MERCHANT = 'x-sandbox-merchant';
const H_TIMESTAMP = 'x-sandbox-timestamp';
const H_NONCE = 'x-sandbox-nonce';
const H_SIGNATURE = 'x-sandbox-signature';

/**
 * Lowercase hex HMAC-SHA256(key, `${method}\n${path}\n${timestamp}\n${nonce}\n${body}`) over the
 * key's and the body's UTF-8 bytes; `path` is the request target as sent (path and any query).
 */
export function sandboxSignature(
  key: string,
  method: string,
  path: string,
  timestamp: string,
  nonce: string,
  body: string | Buffer,
): string {
  return createHmac('sha256', Buffer.from(key, 'utf8'))
    .update(`${method}\n${path}\n${timestamp}\n${nonce}\n`, 'utf8')
    .update(typeof body === 'string' ? Buffer.from(body, 'utf8') : body)
    .digest('hex');
}

export interface SandboxAdapterOptions {
  /** Per call (PAYMENT_CHANNEL_TIMEOUT_MS): no answer by then = unknown outcome. */
  timeoutMs: number;
  /** Clock for request timestamps and notification freshness; injected in tests. */
  now?: () => Date;
}

/**
 * ChannelAdapter of the sandbox provider (docs/sandbox-channel.md, tools/sandbox-channel). Every
 * request is signed with the project's merchant key; amounts travel as strings of minor units.
 * A definite refusal (4xx with a code) is ChannelRejectedError(code); no answer in time, a broken
 * connection, a 5xx, a 408/429 or an answer that cannot be read is ChannelUnavailableError: the
 * caller does not know what happened and resolves it by query.
 */
export class SandboxAdapter implements ChannelAdapter {
  private readonly now: () => Date;

  constructor(private readonly options: SandboxAdapterOptions) {
    this.now = options.now ?? (() => new Date());
  }

  async createOrder(account: ChannelAccount, input: CreateOrderInput): Promise<ChannelOrder> {
    const body = await this.call(account, 'POST', '/v1/orders', {
      outTradeNo: input.paymentId,
      amount: input.amountMinor.toString(),
      currency: input.currency,
      description: input.description,
      notifyUrl: input.notifyUrl,
      expireAt: input.expiresAt.toISOString(),
      profitSharing: input.profitSharing,
    });
    return parsed(() => toOrder(body, input.paymentId));
  }

  async queryOrder(account: ChannelAccount, paymentId: string): Promise<ChannelOrder> {
    const body = await this.call(account, 'GET', `/v1/orders/${encodeURIComponent(paymentId)}`);
    return parsed(() => toOrder(body, paymentId));
  }

  async closeOrder(account: ChannelAccount, paymentId: string): Promise<ChannelOrder> {
    const body = await this.call(account, 'POST', `/v1/orders/${encodeURIComponent(paymentId)}/close`, {});
    return parsed(() => toOrder(body, paymentId));
  }

  async refund(account: ChannelAccount, input: RefundInput): Promise<ChannelRefund> {
    const body = await this.call(account, 'POST', '/v1/refunds', {
      outTradeNo: input.paymentId,
      outRefundNo: input.refundId,
      amount: input.amountMinor.toString(),
      total: input.totalMinor.toString(),
      reason: input.reason,
      notifyUrl: input.notifyUrl,
    });
    return parsed(() => toRefund(body, input.refundId));
  }

  async queryRefund(account: ChannelAccount, paymentId: string, refundId: string): Promise<ChannelRefund> {
    const body = await this.call(account, 'GET', `/v1/refunds/${encodeURIComponent(refundId)}`);
    return parsed(() => {
      const refund = toRefund(body, refundId);
      if (refund.paymentId !== paymentId)
        throw new Malformed(`refund ${refundId} belongs to order ${refund.paymentId}, not ${paymentId}`);
      return refund;
    });
  }

  async split(
    account: ChannelAccount,
    input: { paymentId: string; splitId: string; receivers: SplitReceiver[]; unfreezeRest: boolean },
  ): Promise<SplitResult> {
    const body = await this.call(account, 'POST', '/v1/splits', {
      outTradeNo: input.paymentId,
      outSplitNo: input.splitId,
      receivers: input.receivers.map((r) => ({
        account: r.account,
        amount: r.amountMinor.toString(),
        description: r.description,
      })),
      unfreezeRest: input.unfreezeRest,
    });
    return parsed(() => toSplit(body, input.splitId, input.receivers));
  }

  async unfreeze(
    account: ChannelAccount,
    input: { paymentId: string; splitId: string },
  ): Promise<SplitResult> {
    const body = await this.call(account, 'POST', '/v1/splits/unfreeze', {
      outTradeNo: input.paymentId,
      outSplitNo: input.splitId,
    });
    return parsed(() => toSplit(body, input.splitId, []));
  }

  async splitReturn(
    account: ChannelAccount,
    input: { paymentId: string; splitId: string; returnId: string; account: string; amountMinor: bigint },
  ): Promise<{ returnId: string; status: 'PROCESSING' | 'SUCCESS' | 'FAILED' }> {
    const body = await this.call(account, 'POST', '/v1/split-returns', {
      outTradeNo: input.paymentId,
      outSplitNo: input.splitId,
      outReturnNo: input.returnId,
      account: input.account,
      amount: input.amountMinor.toString(),
    });
    return parsed(() => {
      const o = object(body, 'split return');
      const returnId = optionalText(o, 'outReturnNo') ?? input.returnId;
      if (returnId !== input.returnId) throw new Malformed(`answer is for return ${returnId}`);
      return { returnId, status: oneOf(o, 'status', ['PROCESSING', 'SUCCESS', 'FAILED'] as const) };
    });
  }

  async statement(account: ChannelAccount, day: string): Promise<StatementLine[]> {
    if (!/^\d{4}-\d{2}-\d{2}$/.test(day)) throw new RangeError(`statement day must be YYYY-MM-DD: ${day}`);
    const csv = await this.call(account, 'GET', `/v1/statements/${day}`, undefined, 'text');
    return parsed(() => parseStatement(csv as string));
  }

  /**
   * Verifies a notification posted to a notify URL. `headers` are the request's headers plus
   * `':path'`: the request target the notification was posted to (path and any query, e.g.
   * express's req.originalUrl), which the signature covers. The merchant must be the account's, the
   * signature right over the RAW body, the timestamp within 300 s of our clock. A notification
   * that fails any check, or whose signed body is not a notification, is ChannelSignatureError.
   */
  verifyNotification(
    account: ChannelAccount,
    headers: Record<string, string | undefined>,
    rawBody: Buffer,
  ): ChannelNotification {
    const header = lowercaseHeaders(headers);
    const path = header[':path'];
    const merchant = header[H_MERCHANT];
    const timestamp = header[H_TIMESTAMP];
    const nonce = header[H_NONCE];
    const signature = header[H_SIGNATURE];
    if (!path) throw new ChannelSignatureError('notification: the request path (:path) is missing');
    if (!merchant || !timestamp || !nonce || !signature)
      throw new ChannelSignatureError('notification: signature headers missing');
    if (merchant !== account.merchantNo)
      throw new ChannelSignatureError('notification: merchant is not the account of this payment');
    if (
      !/^\d{1,12}$/.test(timestamp) ||
      !/^[\x21-\x7e]{8,64}$/.test(nonce) ||
      !/^[0-9a-f]{64}$/.test(signature)
    )
      throw new ChannelSignatureError('notification: malformed signature headers');
    const expected = Buffer.from(
      sandboxSignature(account.credentials, 'POST', path, timestamp, nonce, rawBody),
      'hex',
    );
    if (!timingSafeEqual(expected, Buffer.from(signature, 'hex')))
      throw new ChannelSignatureError('notification: signature does not match');
    const age = Math.floor(this.now().getTime() / 1000) - Number(timestamp);
    if (Math.abs(age) > NOTIFICATION_MAX_AGE_SECONDS)
      throw new ChannelSignatureError(
        `notification: timestamp more than ${NOTIFICATION_MAX_AGE_SECONDS} s from our clock`,
      );
    try {
      return toNotification(JSON.parse(rawBody.toString('utf8')));
    } catch (err) {
      throw new ChannelSignatureError(
        `notification: signed body is not a notification (${err instanceof Error ? err.message : 'unreadable'})`,
      );
    }
  }

  /** One signed call. Resolves with the parsed JSON (or the text) of a 2xx answer. */
  private async call(
    account: ChannelAccount,
    method: 'GET' | 'POST',
    path: string,
    payload?: unknown,
    as: 'json' | 'text' = 'json',
  ): Promise<unknown> {
    const url = new URL(account.endpoint.replace(/\/+$/, '') + path);
    const target = url.pathname + url.search;
    const body = payload === undefined ? '' : JSON.stringify(payload);
    const timestamp = String(Math.floor(this.now().getTime() / 1000));
    const nonce = randomBytes(16).toString('hex');
    const headers: Record<string, string> = {
      [H_MERCHANT]: account.merchantNo,
      [H_TIMESTAMP]: timestamp,
      [H_NONCE]: nonce,
      [H_SIGNATURE]: sandboxSignature(account.credentials, method, target, timestamp, nonce, body),
    };
    if (payload !== undefined) headers['content-type'] = 'application/json';
    const what = `sandbox ${method} ${url.pathname}`;
    let status: number;
    let text: string;
    try {
      const res = await fetch(url, {
        method,
        headers,
        body: payload === undefined ? undefined : body,
        signal: AbortSignal.timeout(this.options.timeoutMs),
        redirect: 'manual',
      });
      status = res.status;
      text = await res.text(); // still under the timeout signal
    } catch (err) {
      // DOMException of AbortSignal.timeout (not always instanceof Error across realms)
      const timedOut = (err as { name?: unknown } | null)?.name === 'TimeoutError';
      const reason = timedOut ? `no answer in time (${this.options.timeoutMs} ms)` : 'no answer';
      throw new ChannelUnavailableError(`${what}: ${reason}`, err);
    }
    if (status >= 200 && status < 300) {
      if (as === 'text') return text;
      try {
        return JSON.parse(text) as unknown;
      } catch (err) {
        throw new ChannelUnavailableError(`${what}: HTTP ${status} with an unreadable body`, err);
      }
    }
    if (status >= 500 || status === 408 || status === 429 || status < 200 || (status >= 300 && status < 400))
      throw new ChannelUnavailableError(`${what}: HTTP ${status}`);
    const code = errorCode(text) ?? `HTTP_${status}`;
    throw new ChannelRejectedError(code, `${what}: HTTP ${status} ${code}`);
  }
}

// ---- answers -------------------------------------------------------------------------------------

/** An answer the provider gave that we cannot read: its outcome is unknown to us. */
class Malformed extends Error {}

function parsed<T>(parse: () => T): T {
  try {
    return parse();
  } catch (err) {
    if (err instanceof Malformed)
      throw new ChannelUnavailableError(`sandbox answer unreadable: ${err.message}`, err);
    throw err;
  }
}

function errorCode(text: string): string | undefined {
  try {
    const body = JSON.parse(text) as unknown;
    if (body && typeof body === 'object' && typeof (body as { code?: unknown }).code === 'string') {
      const code = (body as { code: string }).code;
      return /^[A-Z0-9_]{1,64}$/.test(code) ? code : undefined;
    }
  } catch {
    // not JSON: no code
  }
  return undefined;
}

type Json = Record<string, unknown>;

function object(v: unknown, what: string): Json {
  if (!v || typeof v !== 'object' || Array.isArray(v)) throw new Malformed(`${what} is not an object`);
  return v as Json;
}

function text(o: Json, key: string): string {
  const v = o[key];
  if (typeof v !== 'string' || v === '') throw new Malformed(`${key} missing`);
  return v;
}

function optionalText(o: Json, key: string): string | undefined {
  const v = o[key];
  if (v === undefined || v === null || v === '') return undefined;
  if (typeof v !== 'string') throw new Malformed(`${key} is not a string`);
  return v;
}

function minor(o: Json, key: string): bigint {
  const v = o[key];
  if (typeof v !== 'string' || !/^\d{1,19}$/.test(v)) throw new Malformed(`${key} is not an amount string`);
  return BigInt(v);
}

function optionalDate(o: Json, key: string): Date | undefined {
  const v = optionalText(o, key);
  if (v === undefined) return undefined;
  const d = new Date(v);
  if (Number.isNaN(d.getTime())) throw new Malformed(`${key} is not a date`);
  return d;
}

function oneOf<T extends string>(o: Json, key: string, values: readonly T[]): T {
  const v = o[key];
  if (typeof v !== 'string' || !(values as readonly string[]).includes(v))
    throw new Malformed(`${key} is not one of ${values.join(', ')}`);
  return v as T;
}

const ORDER_STATUSES: readonly ChannelOrderStatus[] = ['NOTPAY', 'SUCCESS', 'PAYERROR', 'CLOSED'];
const REFUND_STATUSES: readonly ChannelRefundStatus[] = ['PROCESSING', 'SUCCESS', 'ABNORMAL'];

function toOrder(v: unknown, paymentId?: string): ChannelOrder {
  const o = object(v, 'order');
  const outTradeNo = text(o, 'outTradeNo');
  if (paymentId !== undefined && outTradeNo !== paymentId)
    throw new Malformed(`answer is for order ${outTradeNo}, not ${paymentId}`);
  return {
    paymentId: outTradeNo,
    status: oneOf(o, 'status', ORDER_STATUSES),
    payUrl: optionalText(o, 'payUrl') ?? '',
    amountMinor: minor(o, 'amount'),
    transactionId: optionalText(o, 'transactionId'),
    paidAt: optionalDate(o, 'paidAt'),
    failureReason: optionalText(o, 'failureReason'),
  };
}

function toRefund(v: unknown, refundId?: string): ChannelRefund {
  const o = object(v, 'refund');
  const outRefundNo = text(o, 'outRefundNo');
  if (refundId !== undefined && outRefundNo !== refundId)
    throw new Malformed(`answer is for refund ${outRefundNo}, not ${refundId}`);
  return {
    refundId: outRefundNo,
    paymentId: text(o, 'outTradeNo'),
    status: oneOf(o, 'status', REFUND_STATUSES),
    amountMinor: minor(o, 'amount'),
    channelRefundId: optionalText(o, 'refundId'),
    completedAt: optionalDate(o, 'completedAt'),
    failureReason: optionalText(o, 'failureReason'),
  };
}

/**
 * A split answer. The doc fixes only `status` (FINISHED); receivers, when the answer lists them,
 * carry their own result, otherwise the requested receivers take the split's outcome.
 */
function toSplit(v: unknown, splitId: string, requested: SplitReceiver[]): SplitResult {
  const o = object(v, 'split');
  const answeredId = optionalText(o, 'outSplitNo') ?? splitId;
  if (answeredId !== splitId) throw new Malformed(`answer is for split ${answeredId}, not ${splitId}`);
  const status = oneOf(o, 'status', ['PROCESSING', 'FINISHED', 'FAILED'] as const);
  const implied = status === 'FINISHED' ? 'SUCCESS' : status === 'FAILED' ? 'FAILED' : 'PENDING';
  const listed = o.receivers;
  if (listed === undefined || listed === null)
    return { splitId, status, receivers: requested.map((r) => ({ ...r, result: implied })) };
  if (!Array.isArray(listed)) throw new Malformed('receivers is not a list');
  return {
    splitId,
    status,
    receivers: listed.map((item, i) => {
      const r = object(item, `receivers[${i}]`);
      const result =
        r.result === undefined ? implied : oneOf(r, 'result', ['SUCCESS', 'FAILED', 'PENDING'] as const);
      return {
        account: text(r, 'account'),
        amountMinor: minor(r, 'amount'),
        description: optionalText(r, 'description') ?? '',
        result,
      };
    }),
  };
}

function toNotification(v: unknown): ChannelNotification {
  const o = object(v, 'notification');
  const notificationId = text(o, 'notificationId');
  const type = oneOf(o, 'type', ['ORDER', 'REFUND'] as const);
  return type === 'ORDER'
    ? { kind: 'order', notificationId, order: toOrder(o.order) }
    : { kind: 'refund', notificationId, refund: toRefund(o.refund) };
}

const STATEMENT_HEADER = 'kind,transaction_id,out_trade_no,out_refund_no,amount,fee,at';

/** The statement CSV (header `kind,transaction_id,out_trade_no,out_refund_no,amount,fee,at`). */
export function parseStatement(csv: string): StatementLine[] {
  const lines = csv.split(/\r?\n/).filter((l) => l.trim() !== '');
  const header = lines.shift();
  if (header === undefined) return [];
  if (header.trim() !== STATEMENT_HEADER) throw new Malformed(`statement header is "${header}"`);
  return lines.map((line, i) => {
    const cells = splitCsvLine(line);
    if (cells.length !== 7) throw new Malformed(`statement line ${i + 2} has ${cells.length} cells`);
    const [kind = '', transactionId = '', paymentId = '', refundId = '', amount = '', fee = '', at = ''] =
      cells;
    const upper = kind.toUpperCase();
    if (upper !== 'PAYMENT' && upper !== 'REFUND')
      throw new Malformed(`statement line ${i + 2}: kind ${kind}`);
    const row = { amount, fee, at } as Json;
    const entry: StatementLine = {
      kind: upper,
      transactionId,
      paymentId,
      amountMinor: minor(row, 'amount'),
      feeMinor: minor(row, 'fee'),
      at: optionalDate(row, 'at') ?? missing(`statement line ${i + 2}: at`),
    };
    if (refundId !== '') entry.refundId = refundId;
    return entry;
  });
}

function missing(what: string): never {
  throw new Malformed(`${what} missing`);
}

/** One CSV line (RFC 4180 quoting). */
function splitCsvLine(line: string): string[] {
  const cells: string[] = [];
  let cell = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (quoted) {
      if (c === '"' && line[i + 1] === '"') {
        cell += '"';
        i++;
      } else if (c === '"') quoted = false;
      else cell += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      cells.push(cell);
      cell = '';
    } else cell += c;
  }
  cells.push(cell);
  return cells;
}

function lowercaseHeaders(headers: Record<string, string | undefined>): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = {};
  for (const [k, v] of Object.entries(headers)) out[k.toLowerCase()] = typeof v === 'string' ? v : undefined;
  return out;
}
