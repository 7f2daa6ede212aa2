/**
 * The one interface every payment channel adapter implements (sandbox, WeChat Pay, Alipay,
 * UnionPay, a local bank). Payment's use cases only talk to channels through it. Amounts are
 * integer minor units (bigint). Every call is idempotent at the provider by the ids Citybase passes
 * (payment_id as out_trade_no, refund_id as out_refund_no, split ids), so a retry after a timeout is
 * safe. A call that gets no definite answer (timeout, connection reset, 5xx) throws
 * ChannelUnavailableError: the caller treats the outcome as UNKNOWN and resolves it by query.
 */

/** The project's account at the channel, decrypted only for the call. */
export interface ChannelAccount {
  channelId: string;
  /** Provider API base URL (from the city's catalog). */
  endpoint: string;
  merchantNo: string;
  /** The merchant key: signs requests, verifies callbacks. */
  credentials: string;
}

export type ChannelOrderStatus = 'NOTPAY' | 'SUCCESS' | 'PAYERROR' | 'CLOSED';
export type ChannelRefundStatus = 'PROCESSING' | 'SUCCESS' | 'ABNORMAL';

export interface CreateOrderInput {
  /** Citybase payment id; the provider's out_trade_no. */
  paymentId: string;
  amountMinor: bigint;
  currency: string;
  description: string;
  /** Where the provider posts this order's notifications. */
  notifyUrl: string;
  expiresAt: Date;
  /** Hold the funds for a later split (profit sharing). */
  profitSharing: boolean;
}

export interface ChannelOrder {
  paymentId: string;
  status: ChannelOrderStatus;
  /** Where the payer pays. */
  payUrl: string;
  /** Provider transaction id once paid. */
  transactionId?: string;
  paidAt?: Date;
  amountMinor: bigint;
  /** Provider's reason for PAYERROR. */
  failureReason?: string;
}

export interface RefundInput {
  paymentId: string;
  refundId: string;
  amountMinor: bigint;
  /** The payment's total, which providers check the refunds against. */
  totalMinor: bigint;
  reason: string;
  notifyUrl: string;
}

export interface ChannelRefund {
  refundId: string;
  paymentId: string;
  status: ChannelRefundStatus;
  amountMinor: bigint;
  channelRefundId?: string;
  completedAt?: Date;
  failureReason?: string;
}

/** A receiver of part of held funds (profit sharing). */
export interface SplitReceiver {
  /** Receiver account at the provider (e.g. a merchant's sub-account, the platform's account). */
  account: string;
  amountMinor: bigint;
  description: string;
}

export interface SplitResult {
  splitId: string;
  status: 'PROCESSING' | 'FINISHED' | 'FAILED';
  receivers: (SplitReceiver & { result: 'SUCCESS' | 'FAILED' | 'PENDING' })[];
}

/** A notification the provider posted to notify_url, after its signature was verified. */
export type ChannelNotification =
  | { kind: 'order'; order: ChannelOrder; notificationId: string }
  | { kind: 'refund'; refund: ChannelRefund; notificationId: string };

/** One line of the provider's daily statement. */
export interface StatementLine {
  kind: 'PAYMENT' | 'REFUND';
  transactionId: string;
  paymentId: string;
  refundId?: string;
  amountMinor: bigint;
  feeMinor: bigint;
  at: Date;
}

export interface ChannelAdapter {
  /** Opens the order at the provider. Idempotent by paymentId. */
  createOrder(account: ChannelAccount, input: CreateOrderInput): Promise<ChannelOrder>;
  /** The provider's current view of the order. */
  queryOrder(account: ChannelAccount, paymentId: string): Promise<ChannelOrder>;
  /** Closes an unpaid order (expiry); a paid order is not closed and is returned as SUCCESS. */
  closeOrder(account: ChannelAccount, paymentId: string): Promise<ChannelOrder>;
  /** Starts a refund. Idempotent by refundId. */
  refund(account: ChannelAccount, input: RefundInput): Promise<ChannelRefund>;
  queryRefund(account: ChannelAccount, paymentId: string, refundId: string): Promise<ChannelRefund>;
  /** Splits held funds of a paid profit-sharing order to receivers. Idempotent by splitId. */
  split(
    account: ChannelAccount,
    input: { paymentId: string; splitId: string; receivers: SplitReceiver[]; unfreezeRest: boolean },
  ): Promise<SplitResult>;
  /** Releases what is still held of the order to the merchant. Idempotent by splitId. */
  unfreeze(account: ChannelAccount, input: { paymentId: string; splitId: string }): Promise<SplitResult>;
  /** Takes a split back from a receiver (before refunding a split order). Idempotent by returnId. */
  splitReturn(
    account: ChannelAccount,
    input: { paymentId: string; splitId: string; returnId: string; account: string; amountMinor: bigint },
  ): Promise<{ returnId: string; status: 'PROCESSING' | 'SUCCESS' | 'FAILED' }>;
  /** The provider's statement of a day (YYYY-MM-DD, provider time zone). */
  statement(account: ChannelAccount, day: string): Promise<StatementLine[]>;
  /**
   * Verifies a notification on the RAW request body and its headers with the account's key and
   * parses it. Throws ChannelSignatureError for a missing, wrong or stale signature.
   */
  verifyNotification(
    account: ChannelAccount,
    headers: Record<string, string | undefined>,
    rawBody: Buffer,
  ): ChannelNotification;
}

/** The provider gave no definite answer: the outcome of the call is unknown. */
export class ChannelUnavailableError extends Error {
  constructor(
    message: string,
    override readonly cause?: unknown,
  ) {
    super(message);
    this.name = 'ChannelUnavailableError';
  }
}

/** The provider refused the call with a definite business answer (e.g. amount exceeds refundable). */
export class ChannelRejectedError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'ChannelRejectedError';
  }
}

/** A notification whose signature is missing, wrong or too old. */
export class ChannelSignatureError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ChannelSignatureError';
  }
}
