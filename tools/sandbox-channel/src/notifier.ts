// Delivery of notifications to an order's (or refund's) notifyUrl, signed like requests, retried
// with backoff (1 s, 2 s, 4 s ...) until the receiver answers 2xx, at most 10 attempts per copy.
//
// Order between the notifications of one order (its payment and its refunds):
// - SANDBOX_REORDER off: one queue per order; a notification is sent only once the one before it was
//   delivered or given up, so they arrive in the order they happened.
// - SANDBOX_REORDER on: notifications of an order that are pending together (the first waits
//   SANDBOX_NOTIFY_DELAY_MS and collects any that follow) are sent newest first, one after the
//   other (each delivered or given up before the next), so later ones overtake earlier ones.
// SANDBOX_DUPLICATE_RATE: the share of notifications sent a second time (same notificationId and
// body, fresh timestamp, nonce and signature) right after the first copy was delivered.
import type { Logger } from 'pino';
import type { Behaviour } from './config';
import { signedHeaders } from './signing';
import type { NotificationRequest } from './provider';
import { randomUUID } from 'node:crypto';

export type DeliveryStatus = 'PENDING' | 'RETRYING' | 'DELIVERED' | 'FAILED';

export interface DeliveryAttempt {
  at: string;
  /** The receiver's HTTP status, when it answered. */
  httpStatus?: number;
  /** Why there was no answer (refused, timed out ...). */
  error?: string;
}

/** One notification as GET /sandbox/orders/{outTradeNo}/notifications lists it. */
export interface NotificationRecord {
  notificationId: string;
  type: 'ORDER' | 'REFUND';
  outTradeNo: string;
  outRefundNo?: string;
  notifyUrl: string;
  /** The JSON body sent, exactly. */
  body: string;
  /** Chosen to be sent twice. */
  duplicate: boolean;
  /** Sent newest-first with the others pending for its order (SANDBOX_REORDER). */
  reordered: boolean;
  status: DeliveryStatus;
  /** POSTs made, over all copies. */
  attempts: number;
  /** Copies the receiver accepted (2xx). */
  delivered: number;
  createdAt: string;
  deliveredAt?: string;
  history: DeliveryAttempt[];
}

interface Pending {
  merchantNo: string;
  dueAt: number;
  record: NotificationRecord;
}

export interface NotifierOptions {
  behaviour: () => Behaviour;
  keyOf: (merchantNo: string) => string | undefined;
  logger: Logger;
  random?: () => number;
  now?: () => number;
  /** First retry delay; doubles each attempt. */
  retryBaseMs?: number;
  maxAttemptsPerCopy?: number;
  /** How long one POST may take before it counts as failed. */
  attemptTimeoutMs?: number;
}

const orderKey = (merchantNo: string, outTradeNo: string) => `${merchantNo}\u0000${outTradeNo}`;

export class Notifier {
  private readonly byOrder = new Map<string, NotificationRecord[]>();
  private readonly queues = new Map<string, Pending[]>();
  private readonly batches = new Map<string, Pending[]>();
  private readonly timers = new Map<NodeJS.Timeout, () => void>();
  private readonly abort = new AbortController();
  private readonly random: () => number;
  private readonly now: () => number;
  private readonly retryBaseMs: number;
  private readonly maxAttemptsPerCopy: number;
  private readonly attemptTimeoutMs: number;

  constructor(private readonly options: NotifierOptions) {
    this.random = options.random ?? Math.random;
    this.now = options.now ?? Date.now;
    this.retryBaseMs = options.retryBaseMs ?? 1000;
    this.maxAttemptsPerCopy = options.maxAttemptsPerCopy ?? 10;
    this.attemptTimeoutMs = options.attemptTimeoutMs ?? 10_000;
  }

  enqueue(request: NotificationRequest): NotificationRecord {
    const behaviour = this.options.behaviour();
    const notificationId = `N${randomUUID().replace(/-/g, '')}`;
    const record: NotificationRecord = {
      notificationId,
      type: request.type,
      outTradeNo: request.outTradeNo,
      outRefundNo: request.outRefundNo,
      notifyUrl: request.notifyUrl,
      body: JSON.stringify({ notificationId, ...request.payload }),
      duplicate: this.random() < behaviour.duplicateRate,
      reordered: behaviour.reorder,
      status: 'PENDING',
      attempts: 0,
      delivered: 0,
      createdAt: new Date(this.now()).toISOString(),
      history: [],
    };
    const key = orderKey(request.merchantNo, request.outTradeNo);
    const list = this.byOrder.get(key) ?? [];
    list.push(record);
    this.byOrder.set(key, list);
    const pending: Pending = {
      merchantNo: request.merchantNo,
      dueAt: this.now() + behaviour.notifyDelayMs,
      record,
    };
    if (behaviour.reorder) this.enqueueReordered(key, pending, behaviour.notifyDelayMs);
    else this.enqueueInOrder(key, pending);
    return record;
  }

  /** Everything sent (or being sent) for one order, oldest first. */
  list(merchantNo: string, outTradeNo: string): NotificationRecord[] {
    return this.byOrder.get(orderKey(merchantNo, outTradeNo)) ?? [];
  }

  /** Stops sending: pending waits end, POSTs in flight are aborted. */
  stop(): void {
    this.abort.abort();
    for (const [t, wake] of this.timers) {
      clearTimeout(t);
      wake();
    }
    this.timers.clear();
  }

  private get stopped(): boolean {
    return this.abort.signal.aborted;
  }

  private enqueueInOrder(key: string, pending: Pending): void {
    const queue = this.queues.get(key);
    if (queue) {
      queue.push(pending);
      return;
    }
    const fresh = [pending];
    this.queues.set(key, fresh);
    this.drain(key, fresh).catch((err: unknown) =>
      this.options.logger.error({ err }, 'notification queue failed'),
    );
  }

  private async drain(key: string, queue: Pending[]): Promise<void> {
    try {
      while (queue.length > 0 && !this.stopped) {
        const next = queue[0];
        await this.sleep(next.dueAt - this.now());
        await this.deliver(next);
        queue.shift();
      }
    } finally {
      this.queues.delete(key);
    }
  }

  private enqueueReordered(key: string, pending: Pending, delayMs: number): void {
    const batch = this.batches.get(key);
    if (batch) {
      batch.push(pending);
      return;
    }
    this.batches.set(key, [pending]);
    this.sleep(delayMs)
      .then(async () => {
        const due = this.batches.get(key) ?? [];
        this.batches.delete(key);
        // newest first, one after another: the arrival order is the send order, however busy the machine
        for (const p of due.reverse())
          await this.deliver(p).catch((err: unknown) =>
            this.options.logger.error({ err }, 'notification delivery failed'),
          );
      })
      .catch((err: unknown) => this.options.logger.error({ err }, 'notification batch failed'));
  }

  private async deliver(p: Pending): Promise<void> {
    const copies = p.record.duplicate ? 2 : 1;
    for (let copy = 1; copy <= copies; copy++) {
      for (let tries = 1; ; tries++) {
        if (this.stopped) return;
        if (await this.attempt(p, copy)) break;
        if (tries >= this.maxAttemptsPerCopy) {
          if (p.record.delivered === 0) p.record.status = 'FAILED';
          this.options.logger.warn(
            { notificationId: p.record.notificationId, attempts: p.record.attempts },
            'notification given up',
          );
          return;
        }
        if (p.record.delivered === 0) p.record.status = 'RETRYING';
        await this.sleep(this.retryBaseMs * 2 ** (tries - 1));
      }
    }
  }

  /** One POST; true when the receiver answered 2xx. */
  private async attempt(p: Pending, copy: number): Promise<boolean> {
    const { record } = p;
    const at = new Date(this.now()).toISOString();
    record.attempts += 1;
    let httpStatus: number | undefined;
    let error: string | undefined;
    const key = this.options.keyOf(p.merchantNo);
    if (key === undefined) {
      error = 'merchant is not registered';
    } else {
      try {
        const url = new URL(record.notifyUrl);
        const headers = {
          'content-type': 'application/json',
          ...signedHeaders(p.merchantNo, key, 'POST', `${url.pathname}${url.search}`, record.body),
        };
        const res = await fetch(url, {
          method: 'POST',
          headers,
          body: record.body,
          redirect: 'manual',
          signal: AbortSignal.any([this.abort.signal, AbortSignal.timeout(this.attemptTimeoutMs)]),
        });
        httpStatus = res.status;
        await res.arrayBuffer().catch(() => undefined);
      } catch (err) {
        error = describe(err);
      }
    }
    record.history.push({ at, httpStatus, error });
    const ok = httpStatus !== undefined && httpStatus >= 200 && httpStatus < 300;
    this.options.logger.info(
      {
        notificationId: record.notificationId,
        outTradeNo: record.outTradeNo,
        type: record.type,
        copy,
        attempt: record.attempts,
        httpStatus,
        error,
      },
      ok ? 'notification delivered' : 'notification not accepted',
    );
    if (ok) {
      record.delivered += 1;
      if (record.status !== 'DELIVERED') {
        record.status = 'DELIVERED';
        record.deliveredAt = new Date(this.now()).toISOString();
      }
    }
    return ok;
  }

  /** A wait that stop() ends at once. */
  private sleep(ms: number): Promise<void> {
    if (ms <= 0 || this.stopped) return Promise.resolve();
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.timers.delete(t);
        resolve();
      }, ms);
      this.timers.set(t, resolve);
    });
  }
}

function describe(err: unknown): string {
  if (err instanceof Error) {
    const cause = err.cause instanceof Error ? `: ${err.cause.message}` : '';
    return `${err.name}: ${err.message}${cause}`;
  }
  return String(err);
}
