// The provider's books, kept in memory per merchant: orders, refunds, splits and split returns, with
// their state machines and money rules. Everything here is synchronous, so a check and the write it
// guards (e.g. "refunds never exceed the paid amount") cannot interleave with another request in
// this single-threaded process. Timers (auto-pay, refund completion) and notifications are the only
// things that happen later; they go through `schedule` and `notify` so tests can drive them.
import { randomBytes } from 'node:crypto';
import type { Behaviour, AutoPay } from './config';
import { ProviderError, paramError } from './errors';
import type {
  CreateOrderInput,
  Outcome,
  RefundInput,
  SplitInput,
  SplitReturnInput,
  UnfreezeInput,
} from './requests';
import { dayRange, renderStatement, type StatementLine } from './statement';

export type OrderStatus = 'NOTPAY' | 'SUCCESS' | 'PAYERROR' | 'CLOSED';
export type RefundStatus = 'PROCESSING' | 'SUCCESS' | 'ABNORMAL';

/** An order: what CreateOrder asked for, and what became of it. */
interface Order extends CreateOrderInput {
  merchantNo: string;
  status: OrderStatus;
  transactionId?: string;
  paidAt?: Date;
  failureReason?: string;
  /**
   * Where the paid amount is, always summing to `amount` once paid: held for a later split,
   * with receivers (splits not returned), released to the merchant, or reserved by refunds that
   * are not ABNORMAL. Refunds take from held first, then from released.
   */
  held: bigint;
  released: bigint;
  withReceivers: bigint;
  reservedByRefunds: bigint;
  /** Sum of SUCCESS refunds. */
  refunded: bigint;
}

interface Refund {
  merchantNo: string;
  outRefundNo: string;
  outTradeNo: string;
  refundId: string;
  status: RefundStatus;
  amount: bigint;
  fromHeld: bigint;
  fromReleased: bigint;
  createdAt: Date;
  completedAt?: Date;
  failureReason?: string;
}

interface SplitReceiver {
  account: string;
  amount: bigint;
  description: string;
  returned: bigint;
}

interface Split {
  kind: 'split' | 'unfreeze';
  outSplitNo: string;
  outTradeNo: string;
  receivers: SplitReceiver[];
  unfreezeRest: boolean;
  /** Moved from held to the merchant by this split (its unfreezeRest) or unfreeze. */
  unfrozen: bigint;
}

interface SplitReturn {
  outReturnNo: string;
  outTradeNo: string;
  outSplitNo: string;
  account: string;
  amount: bigint;
}

interface Merchant {
  merchantNo: string;
  key: string;
  orders: Map<string, Order>;
  refunds: Map<string, Refund>;
  splits: Map<string, Split>;
  returns: Map<string, SplitReturn>;
}

// JSON views: amounts as strings, instants as ISO, absent optionals left out.
export interface OrderView {
  outTradeNo: string;
  transactionId?: string;
  status: OrderStatus;
  amount: string;
  currency: string;
  payUrl: string;
  paidAt?: string;
  failureReason?: string;
  profitSharing: boolean;
  held: string;
  refunded: string;
}

export interface RefundView {
  outRefundNo: string;
  outTradeNo: string;
  refundId: string;
  status: RefundStatus;
  amount: string;
  completedAt?: string;
  failureReason?: string;
}

export interface SplitView {
  outSplitNo: string;
  outTradeNo: string;
  status: 'FINISHED';
  receivers: { account: string; amount: string; description: string; result: 'SUCCESS' }[];
  unfrozen: string;
}

export interface SplitReturnView {
  outReturnNo: string;
  outTradeNo: string;
  outSplitNo: string;
  account: string;
  amount: string;
  status: 'SUCCESS';
}

/** What the notifier is asked to deliver. `body` is a snapshot taken when the event happened. */
export interface NotificationRequest {
  merchantNo: string;
  outTradeNo: string;
  outRefundNo?: string;
  notifyUrl: string;
  type: 'ORDER' | 'REFUND';
  payload: { type: 'ORDER'; order: OrderView } | { type: 'REFUND'; refund: RefundView };
}

export interface ProviderOptions {
  behaviour: () => Behaviour;
  notify: (n: NotificationRequest) => void;
  /** Where the payer pays an order (the sandbox's own payer endpoint). */
  payUrl: (outTradeNo: string) => string;
  now?: () => number;
  random?: () => number;
}

const PAYER_DECLINED = 'BANK_DECLINED';
const REFUND_FAILED = 'REFUND_ABNORMAL';

function newId(prefix: string, at: Date): string {
  const stamp = at
    .toISOString()
    .replace(/[-:TZ.]/g, '')
    .slice(0, 14);
  return `${prefix}${stamp}${randomBytes(6).toString('hex')}`;
}

export class SandboxProvider {
  private readonly merchants = new Map<string, Merchant>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly now: () => number;
  private readonly random: () => number;
  private stopped = false;

  constructor(private readonly options: ProviderOptions) {
    this.now = options.now ?? Date.now;
    this.random = options.random ?? Math.random;
  }

  // ---- merchants --------------------------------------------------------------------------------

  /** Registers a merchant, or replaces its key (its orders stay). */
  registerMerchant(merchantNo: string, key: string): void {
    const existing = this.merchants.get(merchantNo);
    if (existing) existing.key = key;
    else
      this.merchants.set(merchantNo, {
        merchantNo,
        key,
        orders: new Map(),
        refunds: new Map(),
        splits: new Map(),
        returns: new Map(),
      });
  }

  keyOf(merchantNo: string): string | undefined {
    return this.merchants.get(merchantNo)?.key;
  }

  private merchant(merchantNo: string): Merchant {
    const m = this.merchants.get(merchantNo);
    // Requests reach here only after their signature was checked against this merchant's key.
    if (!m) throw new ProviderError(401, 'SIGN_ERROR', 'unknown merchant');
    return m;
  }

  // ---- orders -----------------------------------------------------------------------------------

  createOrder(merchantNo: string, input: CreateOrderInput): OrderView {
    const m = this.merchant(merchantNo);
    const existing = m.orders.get(input.outTradeNo);
    if (existing) {
      if (existing.amount !== input.amount || existing.currency !== input.currency) {
        throw new ProviderError(
          409,
          'ORDER_MISMATCH',
          `order ${input.outTradeNo} exists with amount ${existing.amount} ${existing.currency}`,
        );
      }
      return this.orderView(this.settle(existing));
    }
    if (input.expireAt.getTime() <= this.now()) throw paramError('expireAt', 'must be in the future');
    const order: Order = {
      ...input,
      merchantNo,
      status: 'NOTPAY',
      held: 0n,
      released: 0n,
      withReceivers: 0n,
      reservedByRefunds: 0n,
      refunded: 0n,
    };
    m.orders.set(order.outTradeNo, order);
    const { autoPay, autoPayDelayMs } = this.options.behaviour();
    if (autoPay !== 'off') this.scheduleAutoPay(order, autoPay, autoPayDelayMs);
    return this.orderView(order);
  }

  getOrder(merchantNo: string, outTradeNo: string): OrderView {
    return this.orderView(this.order(this.merchant(merchantNo), outTradeNo));
  }

  /** Closes an unpaid order; a paid (or failed) order is answered as it is. */
  closeOrder(merchantNo: string, outTradeNo: string): OrderView {
    const order = this.order(this.merchant(merchantNo), outTradeNo);
    if (order.status === 'NOTPAY') order.status = 'CLOSED';
    return this.orderView(order);
  }

  /**
   * The payer pays, or the bank declines, now. Repeating the same outcome answers the order as it
   * is; anything else on a final order is a 409.
   */
  pay(outTradeNo: string, outcome: Outcome, merchantNo?: string): OrderView {
    const order = this.findOrderForPayer(outTradeNo, merchantNo);
    switch (order.status) {
      case 'NOTPAY':
        break;
      case 'CLOSED':
        throw new ProviderError(409, 'ORDER_CLOSED', `order ${outTradeNo} is closed`);
      case 'SUCCESS':
        if (outcome === 'success') return this.orderView(order);
        throw new ProviderError(409, 'ORDER_PAID', `order ${outTradeNo} is already paid`);
      case 'PAYERROR':
        if (outcome === 'fail') return this.orderView(order);
        throw new ProviderError(409, 'ORDER_PAYERROR', `order ${outTradeNo} already failed`);
    }
    const at = new Date(this.now());
    if (outcome === 'success') {
      order.status = 'SUCCESS';
      order.transactionId = newId('SBX', at);
      order.paidAt = at;
      // Profit sharing freezes the whole amount until it is split or unfrozen.
      if (order.profitSharing) order.held = order.amount;
      else order.released = order.amount;
    } else {
      order.status = 'PAYERROR';
      order.failureReason = PAYER_DECLINED;
    }
    this.options.notify({
      merchantNo: order.merchantNo,
      outTradeNo: order.outTradeNo,
      notifyUrl: order.notifyUrl,
      type: 'ORDER',
      payload: { type: 'ORDER', order: this.orderView(order) },
    });
    return this.orderView(order);
  }

  /** Orders with this outTradeNo in any merchant (the payer endpoints are not signed). */
  private ordersNamed(outTradeNo: string): { merchantNo: string; outTradeNo: string }[] {
    const found: { merchantNo: string; outTradeNo: string }[] = [];
    for (const m of this.merchants.values()) {
      if (m.orders.has(outTradeNo)) found.push({ merchantNo: m.merchantNo, outTradeNo });
    }
    return found;
  }

  /** The merchant of the order a payer (or a test) names, asking for the merchant only when it is ambiguous. */
  locateOrder(outTradeNo: string, merchantNo?: string): { merchantNo: string; outTradeNo: string } {
    const order = this.findOrderForPayer(outTradeNo, merchantNo);
    return { merchantNo: order.merchantNo, outTradeNo: order.outTradeNo };
  }

  private findOrderForPayer(outTradeNo: string, merchantNo?: string): Order {
    if (merchantNo !== undefined)
      return this.order(this.merchants.get(merchantNo) ?? this.noMerchant(), outTradeNo);
    const found = this.ordersNamed(outTradeNo);
    if (found.length === 0)
      throw new ProviderError(404, 'ORDER_NOT_EXIST', `order ${outTradeNo} does not exist`);
    if (found.length > 1) {
      throw new ProviderError(
        409,
        'ORDER_AMBIGUOUS',
        `several merchants have an order ${outTradeNo}: say which with X-Sandbox-Merchant`,
      );
    }
    return this.order(this.merchant(found[0].merchantNo), outTradeNo);
  }

  private noMerchant(): never {
    throw new ProviderError(404, 'ORDER_NOT_EXIST', 'no such merchant');
  }

  private order(m: Merchant, outTradeNo: string): Order {
    const order = m.orders.get(outTradeNo);
    if (!order) throw new ProviderError(404, 'ORDER_NOT_EXIST', `order ${outTradeNo} does not exist`);
    return this.settle(order);
  }

  /** An unpaid order past its expiry is closed by itself, whenever anyone looks at it. */
  private settle(order: Order): Order {
    if (order.status === 'NOTPAY' && this.now() >= order.expireAt.getTime()) order.status = 'CLOSED';
    return order;
  }

  private scheduleAutoPay(order: Order, outcome: Exclude<AutoPay, 'off'>, delayMs: number): void {
    this.later(delayMs, () => {
      if (this.settle(order).status !== 'NOTPAY') return;
      this.pay(order.outTradeNo, outcome, order.merchantNo);
    });
  }

  // ---- refunds ----------------------------------------------------------------------------------

  /**
   * Starts a refund. The check that refunds stay within what was paid and the reservation of the
   * amount happen in this one synchronous call.
   */
  refund(merchantNo: string, input: RefundInput): RefundView {
    const m = this.merchant(merchantNo);
    const existing = m.refunds.get(input.outRefundNo);
    if (existing) {
      if (existing.outTradeNo !== input.outTradeNo || existing.amount !== input.amount) {
        throw new ProviderError(
          409,
          'REFUND_MISMATCH',
          `refund ${input.outRefundNo} exists for order ${existing.outTradeNo} with amount ${existing.amount}`,
        );
      }
      return this.refundView(existing);
    }
    const order = this.order(m, input.outTradeNo);
    if (input.total !== order.amount) throw paramError('total', `must be the order amount (${order.amount})`);
    if (order.status !== 'SUCCESS') {
      throw new ProviderError(400, 'ORDER_NOT_PAID', `order ${order.outTradeNo} is ${order.status}`);
    }
    const refundable = order.held + order.released;
    if (input.amount > refundable) {
      throw new ProviderError(
        400,
        'NOT_ENOUGH',
        `refundable ${refundable} (paid ${order.amount}, refunds ${order.reservedByRefunds}, with split receivers ${order.withReceivers})`,
      );
    }
    const fromHeld = input.amount < order.held ? input.amount : order.held;
    const fromReleased = input.amount - fromHeld;
    order.held -= fromHeld;
    order.released -= fromReleased;
    order.reservedByRefunds += input.amount;
    const createdAt = new Date(this.now());
    const refund: Refund = {
      merchantNo,
      outRefundNo: input.outRefundNo,
      outTradeNo: order.outTradeNo,
      refundId: newId('SBXR', createdAt),
      status: 'PROCESSING',
      amount: input.amount,
      fromHeld,
      fromReleased,
      createdAt,
    };
    m.refunds.set(refund.outRefundNo, refund);
    const { refundDelayMs } = this.options.behaviour();
    this.later(refundDelayMs, () => this.completeRefund(order, refund, input.notifyUrl));
    return this.refundView(refund);
  }

  getRefund(merchantNo: string, outRefundNo: string): RefundView {
    const refund = this.merchant(merchantNo).refunds.get(outRefundNo);
    if (!refund) throw new ProviderError(404, 'REFUND_NOT_EXIST', `refund ${outRefundNo} does not exist`);
    return this.refundView(refund);
  }

  private completeRefund(order: Order, refund: Refund, notifyUrl: string): void {
    if (refund.status !== 'PROCESSING') return;
    refund.completedAt = new Date(this.now());
    if (this.random() < this.options.behaviour().refundFailureRate) {
      refund.status = 'ABNORMAL';
      refund.failureReason = REFUND_FAILED;
      // The money goes back where it came from.
      order.held += refund.fromHeld;
      order.released += refund.fromReleased;
      order.reservedByRefunds -= refund.amount;
    } else {
      refund.status = 'SUCCESS';
      order.refunded += refund.amount;
    }
    this.options.notify({
      merchantNo: order.merchantNo,
      outTradeNo: order.outTradeNo,
      outRefundNo: refund.outRefundNo,
      notifyUrl,
      type: 'REFUND',
      payload: { type: 'REFUND', refund: this.refundView(refund) },
    });
  }

  // ---- profit sharing ---------------------------------------------------------------------------

  split(merchantNo: string, input: SplitInput): SplitView {
    const m = this.merchant(merchantNo);
    const existing = m.splits.get(input.outSplitNo);
    if (existing) {
      const same =
        existing.kind === 'split' &&
        existing.outTradeNo === input.outTradeNo &&
        existing.unfreezeRest === input.unfreezeRest &&
        existing.receivers.length === input.receivers.length &&
        existing.receivers.every(
          (r, i) => r.account === input.receivers[i].account && r.amount === input.receivers[i].amount,
        );
      if (!same)
        throw new ProviderError(409, 'SPLIT_MISMATCH', `split ${input.outSplitNo} exists with other content`);
      return this.splitView(existing);
    }
    const order = this.sharableOrder(m, input.outTradeNo);
    const total = input.receivers.reduce((sum, r) => sum + r.amount, 0n);
    if (total > order.held) {
      throw new ProviderError(
        400,
        'NOT_ENOUGH',
        `split total ${total} exceeds the held amount ${order.held}`,
      );
    }
    order.held -= total;
    order.withReceivers += total;
    const split: Split = {
      kind: 'split',
      outSplitNo: input.outSplitNo,
      outTradeNo: order.outTradeNo,
      receivers: input.receivers.map((r) => ({ ...r, returned: 0n })),
      unfreezeRest: input.unfreezeRest,
      unfrozen: input.unfreezeRest ? this.unfreezeHeld(order) : 0n,
    };
    m.splits.set(split.outSplitNo, split);
    return this.splitView(split);
  }

  unfreeze(merchantNo: string, input: UnfreezeInput): SplitView {
    const m = this.merchant(merchantNo);
    const existing = m.splits.get(input.outSplitNo);
    if (existing) {
      if (existing.kind !== 'unfreeze' || existing.outTradeNo !== input.outTradeNo) {
        throw new ProviderError(409, 'SPLIT_MISMATCH', `split ${input.outSplitNo} exists with other content`);
      }
      return this.splitView(existing);
    }
    const order = this.sharableOrder(m, input.outTradeNo);
    const split: Split = {
      kind: 'unfreeze',
      outSplitNo: input.outSplitNo,
      outTradeNo: order.outTradeNo,
      receivers: [],
      unfreezeRest: true,
      unfrozen: this.unfreezeHeld(order),
    };
    m.splits.set(split.outSplitNo, split);
    return this.splitView(split);
  }

  /** A receiver gives (part of) what it got from a split back; the money is held again. */
  splitReturn(merchantNo: string, input: SplitReturnInput): SplitReturnView {
    const m = this.merchant(merchantNo);
    const existing = m.returns.get(input.outReturnNo);
    if (existing) {
      const same =
        existing.outTradeNo === input.outTradeNo &&
        existing.outSplitNo === input.outSplitNo &&
        existing.account === input.account &&
        existing.amount === input.amount;
      if (!same) {
        throw new ProviderError(
          409,
          'RETURN_MISMATCH',
          `split return ${input.outReturnNo} exists with other content`,
        );
      }
      return this.returnView(existing);
    }
    const order = this.order(m, input.outTradeNo);
    const split = m.splits.get(input.outSplitNo);
    if (!split || split.outTradeNo !== order.outTradeNo) {
      throw new ProviderError(
        404,
        'SPLIT_NOT_EXIST',
        `order ${order.outTradeNo} has no split ${input.outSplitNo}`,
      );
    }
    const receiver = split.receivers.find((r) => r.account === input.account);
    const returnable = receiver ? receiver.amount - receiver.returned : 0n;
    if (!receiver || input.amount > returnable) {
      throw new ProviderError(
        400,
        'NOT_ENOUGH',
        `${input.account} has ${returnable} of split ${input.outSplitNo} left to return`,
      );
    }
    receiver.returned += input.amount;
    order.withReceivers -= input.amount;
    order.held += input.amount;
    const ret: SplitReturn = { ...input, outTradeNo: order.outTradeNo };
    m.returns.set(ret.outReturnNo, ret);
    return this.returnView(ret);
  }

  private sharableOrder(m: Merchant, outTradeNo: string): Order {
    const order = this.order(m, outTradeNo);
    if (order.status !== 'SUCCESS') {
      throw new ProviderError(400, 'ORDER_NOT_PAID', `order ${order.outTradeNo} is ${order.status}`);
    }
    if (!order.profitSharing) {
      throw new ProviderError(
        400,
        'NOT_PROFIT_SHARING',
        `order ${order.outTradeNo} was not created with profitSharing`,
      );
    }
    return order;
  }

  private unfreezeHeld(order: Order): bigint {
    const rest = order.held;
    order.held = 0n;
    order.released += rest;
    return rest;
  }

  // ---- statements -------------------------------------------------------------------------------

  statement(merchantNo: string, day: string): string {
    const m = this.merchant(merchantNo);
    const { start, end } = dayRange(day);
    const within = (at: Date | undefined): at is Date =>
      at !== undefined && at.getTime() >= start && at.getTime() < end;
    const lines: StatementLine[] = [];
    for (const order of m.orders.values()) {
      if (order.status === 'SUCCESS' && within(order.paidAt) && order.transactionId) {
        lines.push({
          kind: 'PAYMENT',
          transactionId: order.transactionId,
          outTradeNo: order.outTradeNo,
          amount: order.amount,
          at: order.paidAt,
        });
      }
    }
    for (const refund of m.refunds.values()) {
      const order = m.orders.get(refund.outTradeNo);
      if (refund.status === 'SUCCESS' && within(refund.completedAt) && order?.transactionId) {
        lines.push({
          kind: 'REFUND',
          transactionId: order.transactionId,
          outTradeNo: refund.outTradeNo,
          outRefundNo: refund.outRefundNo,
          amount: refund.amount,
          at: refund.completedAt,
        });
      }
    }
    return renderStatement(lines);
  }

  // ---- views and timers -------------------------------------------------------------------------

  private orderView(o: Order): OrderView {
    return {
      outTradeNo: o.outTradeNo,
      transactionId: o.transactionId,
      status: o.status,
      amount: o.amount.toString(),
      currency: o.currency,
      payUrl: this.options.payUrl(o.outTradeNo),
      paidAt: o.paidAt?.toISOString(),
      failureReason: o.failureReason,
      profitSharing: o.profitSharing,
      held: o.held.toString(),
      refunded: o.refunded.toString(),
    };
  }

  private refundView(r: Refund): RefundView {
    return {
      outRefundNo: r.outRefundNo,
      outTradeNo: r.outTradeNo,
      refundId: r.refundId,
      status: r.status,
      amount: r.amount.toString(),
      completedAt: r.completedAt?.toISOString(),
      failureReason: r.failureReason,
    };
  }

  private splitView(s: Split): SplitView {
    return {
      outSplitNo: s.outSplitNo,
      outTradeNo: s.outTradeNo,
      status: 'FINISHED',
      receivers: s.receivers.map((r) => ({
        account: r.account,
        amount: r.amount.toString(),
        description: r.description,
        result: 'SUCCESS',
      })),
      unfrozen: s.unfrozen.toString(),
    };
  }

  private returnView(r: SplitReturn): SplitReturnView {
    return {
      outReturnNo: r.outReturnNo,
      outTradeNo: r.outTradeNo,
      outSplitNo: r.outSplitNo,
      account: r.account,
      amount: r.amount.toString(),
      status: 'SUCCESS',
    };
  }

  /** Money conservation of one order, for tests: where the paid amount is must add up. */
  ledgerOf(
    merchantNo: string,
    outTradeNo: string,
  ): {
    amount: bigint;
    held: bigint;
    released: bigint;
    withReceivers: bigint;
    reservedByRefunds: bigint;
    refunded: bigint;
  } {
    const o = this.order(this.merchant(merchantNo), outTradeNo);
    return {
      amount: o.amount,
      held: o.held,
      released: o.released,
      withReceivers: o.withReceivers,
      reservedByRefunds: o.reservedByRefunds,
      refunded: o.refunded,
    };
  }

  private later(ms: number, fn: () => void): void {
    if (this.stopped) return;
    const t = setTimeout(() => {
      this.timers.delete(t);
      fn();
    }, ms);
    this.timers.add(t);
  }

  /** Cancels pending auto-payments and refund completions (shutdown). */
  stop(): void {
    this.stopped = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
  }
}
