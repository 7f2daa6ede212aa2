import { randomUUID } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import { Counter, Registry } from 'prom-client';
import {
  fromTimestamp,
  Logger,
  LOGGER,
  METRICS_REGISTRY,
  Outbox,
  OUTBOX,
  PoolClient,
  toTimestamp,
} from '@citybase/platform';
import type { PaymentSucceeded } from '@citybase/contracts/citybase/payment/v1/events';
import { ChannelSplitStatus, EscrowStatus } from '@citybase/contracts/citybase/settlement/v1/settlement';
import { SettlementEvents } from '@citybase/contracts/events';
import { LedgerService, PostedTransaction } from '../ledger/ledger.service';
import { SplitRulesService } from '../split-rules/split-rules.service';
import { TaxRecordsService } from '../tax-records/tax-records.service';
import {
  completionPosting,
  orderAccounts,
  OrderAccountsOf,
  paymentEscrowedPosting,
  PlannedPosting,
} from './escrow.postings';
import {
  allocateRefund,
  autoConfirmAt,
  channelReceivers,
  CompletedBy,
  decideCompletion,
  NO_PARTS,
  OrderState,
  SPLIT_ROLES,
  splitByRule,
} from './escrow.domain';
import {
  answerInstruction,
  ChannelOutcome,
  EscrowOrderRow,
  findOrder,
  insertInstruction,
  insertOrder,
  InstructionRow,
  updateOrder,
} from './escrow.store';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export const orderState = (o: EscrowOrderRow): OrderState => ({
  orderId: o.order_id,
  status: o.status,
  heldMinor: o.held_minor,
  paidMinor: o.paid_minor,
  refundedMinor: o.refunded_minor,
  refundPendingMinor: o.refund_pending_minor,
  profitSharing: o.profit_sharing,
  channelSplit: o.channel_split_status,
  resolutionPending: o.resolution_refund_id !== null,
  checkout: o.checkout_id !== null,
  partsPending: o.parts_pending,
  checkoutReleased: o.checkout_released,
});

export const tenancyOf = (o: EscrowOrderRow) => ({
  operatorId: o.operator_id,
  projectId: o.project_id,
  merchantId: o.merchant_id,
});

/**
 * An escrow order's money on payment and completion, inside the caller's transaction and under the
 * order's row lock (the caller locked it): the ledger posting (escrow.postings.ts), the order's
 * counters, its split instruction, the tax record and the outbox events commit together or not at
 * all. Refunds are EscrowRefunds (escrow.refunds.ts). docs/settlement-escrow.md has the postings.
 */
@Injectable()
export class EscrowTransitions {
  private readonly splitFailures: Counter;

  constructor(
    @Inject(OUTBOX) private readonly outbox: Outbox,
    @Inject(LOGGER) private readonly logger: Logger,
    @Inject(METRICS_REGISTRY) registry: Registry,
    private readonly ledger: LedgerService,
    private readonly splitRules: SplitRulesService,
    private readonly taxRecords: TaxRecordsService,
  ) {
    this.splitFailures = new Counter({
      name: 'settlement_channel_split_failures_total',
      help: 'Channel splits of completed profit-sharing orders that the channel refused (ChannelSplitFailed)',
      registers: [registry],
    });
  }

  /**
   * Posts a planned posting of the order (escrow.postings.ts) in the caller's transaction: its
   * accounts are created on first use (the ledger caches only committed ones, so a rolled-back
   * transaction leaves nothing behind). Idempotent by the plan's key.
   */
  async post(
    client: PoolClient,
    order: OrderAccountsOf & { order_id: string },
    plan: PlannedPosting,
  ): Promise<PostedTransaction> {
    const keys = orderAccounts(order);
    const lines = [];
    for (const line of plan.lines)
      lines.push({
        accountId: await this.ledger.accountId(
          client,
          typeof line.account === 'string' ? keys[line.account] : line.account,
        ),
        amountMinor: line.amountMinor,
      });
    return this.ledger.post(client, {
      kind: plan.kind,
      idempotencyKey: plan.idempotencyKey,
      currency: order.currency,
      operatorId: order.operator_id,
      projectId: order.project_id,
      reference: order.order_id,
      lines,
    });
  }

  // ---- 1. escrow on payment ----

  /** PaymentSucceeded: the order is held in the project's escrow (once per payment). */
  async escrowPayment(client: PoolClient, e: PaymentSucceeded, eventId: string): Promise<void> {
    const orderId = e.paymentId.toLowerCase();
    const checkoutId = e.checkoutId.toLowerCase();
    const operatorId = e.tenancy?.operatorId ?? '';
    const projectId = e.tenancy?.projectId ?? '';
    if (
      !UUID.test(orderId) ||
      (checkoutId !== '' && !UUID.test(checkoutId)) ||
      !e.amount ||
      e.amount.amountMinor <= 0n ||
      !e.occurredAt ||
      !operatorId ||
      !projectId
    )
      throw new Error(
        `PaymentSucceeded ${e.paymentId}: payment_id (a UUID), checkout_id (a UUID or none), tenancy, a positive amount and occurred_at are required`,
      );
    if (await findOrder(client, orderId)) {
      this.logger.debug({ order_id: orderId }, 'payment already in escrow');
      return;
    }
    // PaymentSucceeded names no merchant category: the project's default rule applies ('')
    const merchantCategory = '';
    const terms = await this.splitRules.termsFor(client, { operatorId, projectId, merchantCategory });
    const paidAt = fromTimestamp(e.occurredAt);
    const row = {
      order_id: orderId,
      operator_id: operatorId,
      project_id: projectId,
      merchant_id: e.merchantId,
      merchant_category: merchantCategory,
      payer_ref: e.payerRef,
      channel_id: e.channel,
      channel_transaction_id: e.channelTransactionId,
      currency: e.amount.currency,
      status: EscrowStatus.ESCROW_STATUS_HELD,
      paid_minor: e.amount.amountMinor,
      held_minor: e.amount.amountMinor,
      profit_sharing: e.profitSharing,
      channel_split_status: e.profitSharing
        ? ChannelSplitStatus.CHANNEL_SPLIT_STATUS_HELD
        : ChannelSplitStatus.CHANNEL_SPLIT_STATUS_NOT_NEEDED,
      paid_at: paidAt,
      auto_confirm_at: autoConfirmAt(paidAt, terms.autoConfirmHours),
      payment_event_id: eventId,
      // a checkout's money part: the order is the checkout's from the start, and cannot complete
      // before its coupon and points parts are in (docs/settlement-checkout.md)
      checkout_id: checkoutId || null,
      parts_pending: checkoutId !== '',
    };
    const tx = await this.post(client, row, paymentEscrowedPosting(orderId, row.paid_minor));
    const order = await insertOrder(client, { ...row, escrow_tx_id: tx.txId });
    if (!order) return;
    await this.outbox.enqueue(
      client,
      SettlementEvents.OrderEscrowed,
      {
        orderId,
        tenancy: tenancyOf(order),
        amount: { currency: order.currency, amountMinor: order.paid_minor },
        transactionId: tx.txId,
        autoConfirmAt: toTimestamp(order.auto_confirm_at),
        occurredAt: toTimestamp(tx.postedAt),
      },
      { key: orderId, tenancy: tenancyOf(order) },
    );
    this.logger.info(
      {
        order_id: orderId,
        amount_minor: order.paid_minor.toString(),
        auto_confirm_at: order.auto_confirm_at,
      },
      'payment held in escrow',
    );
  }

  // ---- 3. completion ----

  /**
   * Completes the order: the held amount goes to the split by the rule in force now (stored on the
   * order), the tax record of the completion's month grows, OrderCompleted is written, and for a
   * profit-sharing payment the channel is asked to split the same way. Completing a completed order
   * returns it unchanged.
   */
  async complete(client: PoolClient, order: EscrowOrderRow, by: CompletedBy): Promise<EscrowOrderRow> {
    if (decideCompletion(orderState(order), by) === 'already') return order;
    const terms = await this.splitRules.termsFor(client, {
      operatorId: order.operator_id,
      projectId: order.project_id,
      merchantCategory: order.merchant_category,
    });
    const release = order.held_minor;
    const parts = splitByRule(release, order.currency, terms);
    const tx = await this.post(client, order, completionPosting(order.order_id, release, parts));
    const completedAt = tx.postedAt;
    // the channel holds only the money part of a checkout's order: it splits that, in the parts'
    // proportions (the discount and points parts are split on the books only)
    const channelMoney =
      order.paid_minor -
      order.discount_minor -
      order.points_minor -
      (order.refunded_minor - order.discount_refunded_minor - order.points_refunded_minor);
    const channelParts =
      channelMoney === release
        ? parts
        : channelMoney > 0n
          ? allocateRefund(channelMoney, order.currency, parts)
          : NO_PARTS;
    const splitInstructionId = order.profit_sharing && channelMoney > 0n ? randomUUID() : null;
    const done = await updateOrder(client, order.order_id, {
      status: EscrowStatus.ESCROW_STATUS_COMPLETED,
      released_minor: order.released_minor + release,
      held_minor: 0n,
      completed_at: completedAt,
      completed_by: by,
      rule_commission_bps: terms.commissionBps,
      rule_property_share_bps: terms.propertyShareBps,
      rule_tax_bps: terms.taxBps,
      merchant_minor: parts.merchant,
      property_minor: parts.property,
      commission_minor: parts.commission,
      tax_minor: parts.tax,
      completion_tx_id: tx.txId,
      channel_split_status: splitInstructionId
        ? ChannelSplitStatus.CHANNEL_SPLIT_STATUS_PENDING
        : ChannelSplitStatus.CHANNEL_SPLIT_STATUS_NOT_NEEDED,
      split_instruction_id: splitInstructionId,
    });
    await this.taxRecords.add(client, {
      operatorId: order.operator_id,
      merchantId: order.merchant_id,
      at: completedAt,
      currency: order.currency,
      turnover: release,
      tax: parts.tax,
      orders: 1,
    });
    const tenancy = tenancyOf(order);
    const opts = { key: order.order_id, tenancy };
    const money = (amountMinor: bigint) => ({ currency: order.currency, amountMinor });
    await this.outbox.enqueue(
      client,
      SettlementEvents.OrderCompleted,
      {
        orderId: order.order_id,
        tenancy,
        released: money(release),
        parts: SPLIT_ROLES.filter((r) => parts[r] > 0n).map((role) => ({ role, amount: money(parts[role]) })),
        transactionId: tx.txId,
        completedBy: by,
        occurredAt: toTimestamp(completedAt),
      },
      opts,
    );
    if (splitInstructionId) {
      await insertInstruction(client, {
        instruction_id: splitInstructionId,
        order_id: order.order_id,
        kind: 'split',
        refund_id: null,
        account: '',
        currency: order.currency,
        amount_minor: channelMoney,
      });
      await this.outbox.enqueue(
        client,
        SettlementEvents.ChannelSplitRequested,
        {
          instructionId: splitInstructionId,
          paymentId: order.order_id,
          tenancy,
          receivers: channelReceivers(channelParts, tenancy).map((r) => ({
            account: r.account,
            amount: money(r.amountMinor),
            description: r.description,
          })),
          unfreezeRest: true,
          occurredAt: toTimestamp(completedAt),
        },
        opts,
      );
    }
    this.logger.info(
      { order_id: order.order_id, by, released_minor: release.toString(), tx_id: tx.txId },
      'order completed',
    );
    return done;
  }

  // ---- 4. the channel's answer to a split ----

  async applySplitAnswer(
    client: PoolClient,
    order: EscrowOrderRow,
    instruction: InstructionRow,
    outcome: ChannelOutcome,
  ): Promise<void> {
    if (!(await answerInstruction(client, instruction.instruction_id, outcome))) return;
    const reason = outcome.succeeded ? '' : outcome.reason;
    if (
      order.split_instruction_id !== instruction.instruction_id ||
      order.channel_split_status !== ChannelSplitStatus.CHANNEL_SPLIT_STATUS_PENDING
    )
      return;
    if (outcome.succeeded) {
      await updateOrder(client, order.order_id, {
        channel_split_status: ChannelSplitStatus.CHANNEL_SPLIT_STATUS_SPLIT,
      });
      return;
    }
    await updateOrder(client, order.order_id, {
      channel_split_status: ChannelSplitStatus.CHANNEL_SPLIT_STATUS_FAILED,
      split_failure_reason: reason,
    });
    this.splitFailures.inc();
    this.logger.error(
      {
        order_id: order.order_id,
        instruction_id: instruction.instruction_id,
        reason,
        alert: 'CHANNEL_SPLIT_FAILED',
      },
      'the channel refused to split a completed order: its funds stay frozen at the channel',
    );
  }
}
