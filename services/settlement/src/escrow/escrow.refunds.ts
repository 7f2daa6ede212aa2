import { randomUUID } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import { Counter, Registry } from 'prom-client';
import {
  Logger,
  LOGGER,
  METRICS_REGISTRY,
  Outbox,
  OUTBOX,
  PoolClient,
  toTimestamp,
} from '@citybase/platform';
import type { RefundSucceeded } from '@citybase/contracts/citybase/payment/v1/events';
import { EscrowStatus } from '@citybase/contracts/citybase/settlement/v1/settlement';
import { SettlementEvents } from '@citybase/contracts/events';
import { TaxRecordsService } from '../tax-records/tax-records.service';
import {
  allocateRefund,
  channelReceivers,
  decideRefund,
  NO_PARTS,
  RefundDestinationName,
  SplitParts,
  statusAfterRefund,
  subtractParts,
  sumParts,
} from './escrow.domain';
import type { AccountKey } from '../ledger/ledger.service';
import { checkoutRefundPosting, PlannedPosting, refundPosting } from './escrow.postings';
import {
  EscrowOrderRow,
  answerInstruction,
  ChannelOutcome,
  EscrowRefundRow,
  findRefund,
  findRefundByPaymentRefund,
  insertInstruction,
  insertRefund,
  InstructionRow,
  instructionsOfRefund,
  netParts,
  RefundOrigin,
  refundParts,
  reservedParts,
  updateOrder,
  updateRefund,
} from './escrow.store';
import { EscrowTransitions, orderState, tenancyOf } from './escrow.transitions';

export interface RefundRequest {
  refundId: string;
  origin: Exclude<RefundOrigin, 'payment'>;
  amountMinor: bigint;
  destination: RefundDestinationName;
  reason: string;
  requestedBy: string;
}

/**
 * The refund saga of an escrow order (docs/settlement-escrow.md, "Refunds"), inside the caller's
 * transaction and under the order's row lock: a refund before completion comes out of escrow (to the
 * wallet at once, or reserved while the channel pays the payer back); after completion the split
 * parts are taken back first (split returns at the channel when it split the funds), then the money
 * goes to the payer. Every step's posting, counters, instructions, tax record and events commit
 * together. Payment's answers and refunds asked of payment directly land here too.
 */
@Injectable()
export class EscrowRefunds {
  private readonly refundFailures: Counter<'stage'>;
  private readonly anomalies: Counter<'kind'>;

  constructor(
    @Inject(OUTBOX) private readonly outbox: Outbox,
    @Inject(LOGGER) private readonly logger: Logger,
    @Inject(METRICS_REGISTRY) registry: Registry,
    private readonly transitions: EscrowTransitions,
    private readonly taxRecords: TaxRecordsService,
  ) {
    this.refundFailures = new Counter({
      name: 'settlement_escrow_refund_failures_total',
      help: 'Refunds of escrow orders that failed, by stage: split_return (ChannelSplitReturnFailed) or refund (RefundFailed)',
      labelNames: ['stage'],
      registers: [registry],
    });
    this.anomalies = new Counter({
      name: 'settlement_escrow_anomalies_total',
      help: 'Events escrow could not apply in full (e.g. a refund asked of payment directly for more than the order has left)',
      labelNames: ['kind'],
      registers: [registry],
    });
  }

  /**
   * Starts a refund of the order (RefundOrder, or a dispute's resolution). Before completion a
   * wallet refund is done at once; a refund through the channel reserves the amount and asks
   * payment. After completion the split parts are taken back (from the channel's receivers first,
   * when the channel split the funds).
   */
  async startRefund(client: PoolClient, order: EscrowOrderRow, r: RefundRequest): Promise<EscrowOrderRow> {
    const plan = decideRefund(orderState(order), r.amountMinor, r.destination, order.payer_ref);
    const base = {
      refund_id: r.refundId,
      order_id: order.order_id,
      origin: r.origin,
      destination: r.destination,
      currency: order.currency,
      amount_minor: r.amountMinor,
      reason: r.reason,
      requested_by: r.requestedBy,
      failure_reason: '',
      payment_refund_id: null,
      tx_id: null,
      completed_at: null,
    };
    const afterSplit = plan.kind === 'after_split';
    // after the split, the refund takes back parts of it: in proportion to what is left of each
    const alloc = afterSplit
      ? allocateRefund(
          r.amountMinor,
          order.currency,
          subtractParts(netParts(order), await reservedParts(client, order.order_id)),
        )
      : NO_PARTS;
    const row = {
      ...base,
      merchant_minor: alloc.merchant,
      property_minor: alloc.property,
      commission_minor: alloc.commission,
      tax_minor: alloc.tax,
      after_split: afterSplit,
    };
    // while the channel works, the amount is reserved on the order (refund_pending)
    const reserve = () =>
      updateOrder(client, order.order_id, {
        refund_pending_minor: order.refund_pending_minor + r.amountMinor,
      });
    if (plan.kind === 'after_split' && plan.splitReturns) {
      const refund = await insertRefund(client, {
        ...row,
        status: 'returning_split',
        refund_instruction_id: null,
      });
      await this.askSplitReturns(client, order, refund, alloc);
      return reserve();
    }
    if (plan.kind === 'escrow_to_wallet' || (afterSplit && r.destination === 'wallet')) {
      const refund = await insertRefund(client, { ...row, status: 'refunding', refund_instruction_id: null });
      return this.finishRefund(client, order, refund, { reserved: false });
    }
    const instructionId = randomUUID();
    const refund = await insertRefund(client, {
      ...row,
      status: 'refunding',
      refund_instruction_id: instructionId,
    });
    await this.askChannelRefund(client, order, refund, instructionId);
    return reserve();
  }

  private async askChannelRefund(
    client: PoolClient,
    order: EscrowOrderRow,
    refund: EscrowRefundRow,
    instructionId: string,
  ): Promise<void> {
    await insertInstruction(client, {
      instruction_id: instructionId,
      order_id: order.order_id,
      kind: 'refund',
      refund_id: refund.refund_id,
      account: '',
      currency: order.currency,
      amount_minor: refund.amount_minor,
    });
    await this.outbox.enqueue(
      client,
      SettlementEvents.ChannelRefundRequested,
      {
        instructionId,
        paymentId: order.order_id,
        tenancy: tenancyOf(order),
        amount: { currency: order.currency, amountMinor: refund.amount_minor },
        reason: refund.reason.slice(0, 200),
        occurredAt: toTimestamp(new Date()),
      },
      { key: order.order_id, tenancy: tenancyOf(order) },
    );
  }

  private async askSplitReturns(
    client: PoolClient,
    order: EscrowOrderRow,
    refund: EscrowRefundRow,
    alloc: SplitParts,
  ): Promise<void> {
    const tenancy = tenancyOf(order);
    for (const receiver of channelReceivers(alloc, tenancy)) {
      const instructionId = randomUUID();
      await insertInstruction(client, {
        instruction_id: instructionId,
        order_id: order.order_id,
        kind: 'split_return',
        refund_id: refund.refund_id,
        account: receiver.account,
        currency: order.currency,
        amount_minor: receiver.amountMinor,
      });
      await this.outbox.enqueue(
        client,
        SettlementEvents.ChannelSplitReturnRequested,
        {
          instructionId,
          paymentId: order.order_id,
          tenancy,
          splitInstructionId: order.split_instruction_id ?? '',
          account: receiver.account,
          amount: { currency: order.currency, amountMinor: receiver.amountMinor },
          occurredAt: toTimestamp(new Date()),
        },
        { key: order.order_id, tenancy },
      );
    }
  }

  /**
   * The refund's money leaves the books: from escrow (before completion) or from the split parts
   * (after), to the channel clearing account (the channel paid the payer back) or into the payer's
   * wallet. `reserved`: the amount had been reserved in refund_pending while the channel worked.
   */
  private async finishRefund(
    client: PoolClient,
    order: EscrowOrderRow,
    refund: EscrowRefundRow,
    opts: {
      reserved: boolean;
      /** A checkout refund's posting (its discount and points parts) instead of refundPosting. */
      posting?: PlannedPosting;
      /** More changes of the order (a checkout refund's parts). */
      extra?: Parameters<typeof updateOrder>[2];
    },
  ): Promise<EscrowOrderRow> {
    const amount = refund.amount_minor;
    const pending = order.refund_pending_minor - (opts.reserved ? amount : 0n);
    let changes: Parameters<typeof updateOrder>[2];
    const parts = refundParts(refund);
    const now = new Date();
    if (!refund.after_split) {
      const held = order.held_minor - amount;
      changes = {
        held_minor: held,
        refunded_minor: order.refunded_minor + amount,
        refund_pending_minor: pending,
        status: statusAfterRefund({ status: order.status, heldMinor: held, refundPendingMinor: pending }),
      };
    } else {
      changes = {
        released_minor: order.released_minor - amount,
        refunded_minor: order.refunded_minor + amount,
        refund_pending_minor: pending,
        merchant_refunded_minor: order.merchant_refunded_minor + parts.merchant,
        property_refunded_minor: order.property_refunded_minor + parts.property,
        commission_refunded_minor: order.commission_refunded_minor + parts.commission,
        tax_refunded_minor: order.tax_refunded_minor + parts.tax,
      };
    }
    const tx = await this.transitions.post(
      client,
      order,
      opts.posting ??
        refundPosting(order.order_id, {
          refundId: refund.refund_id,
          amountMinor: amount,
          destination: refund.destination,
          splitReturn: refund.after_split ? parts : undefined,
        }),
    );
    const done = await updateOrder(client, order.order_id, { ...changes, ...opts.extra });
    await updateRefund(client, refund.refund_id, { status: 'succeeded', tx_id: tx.txId, completed_at: now });
    if (refund.after_split)
      await this.taxRecords.add(client, {
        operatorId: order.operator_id,
        merchantId: order.merchant_id,
        at: tx.postedAt,
        currency: order.currency,
        turnover: -amount,
        tax: -parts.tax,
        orders: 0,
      });
    await this.outbox.enqueue(
      client,
      SettlementEvents.OrderRefunded,
      {
        orderId: order.order_id,
        tenancy: tenancyOf(order),
        amount: { currency: order.currency, amountMinor: amount },
        destination: refund.destination,
        afterSplit: refund.after_split,
        transactionId: tx.txId,
        occurredAt: toTimestamp(tx.postedAt),
      },
      { key: order.order_id, tenancy: tenancyOf(order) },
    );
    this.logger.info(
      {
        order_id: order.order_id,
        refund_id: refund.refund_id,
        amount_minor: amount.toString(),
        destination: refund.destination,
        after_split: refund.after_split,
      },
      'order refunded',
    );
    return done;
  }

  /** Payment's answer to a ChannelRefundRequested (RefundSucceeded / RefundFailed with its id). */
  async applyRefundAnswer(
    client: PoolClient,
    order: EscrowOrderRow,
    instruction: InstructionRow,
    outcome: ChannelOutcome,
  ): Promise<void> {
    const refund = await this.answeredRefund(client, order, instruction, outcome);
    if (!refund) return;
    const waitingResolution = order.resolution_refund_id === refund.refund_id;
    if (outcome.succeeded) {
      let done = await this.finishRefund(client, order, refund, { reserved: true });
      if (waitingResolution) {
        done = await updateOrder(client, order.order_id, { resolution_refund_id: null });
        if (done.dispute_resolution === 'partial') await this.transitions.complete(client, done, 'dispute');
      }
      return;
    }
    await this.failRefund(client, order, refund, 'refund', outcome.reason);
  }

  /** Payment's answer to one ChannelSplitReturnRequested of a refund after the split. */
  async applySplitReturnAnswer(
    client: PoolClient,
    order: EscrowOrderRow,
    instruction: InstructionRow,
    outcome: ChannelOutcome,
  ): Promise<void> {
    const refund = await this.answeredRefund(client, order, instruction, outcome);
    if (!refund) return;
    if (!outcome.succeeded) {
      await this.failRefund(client, order, refund, 'split_return', `SPLIT_RETURN_FAILED: ${outcome.reason}`);
      return;
    }
    const returns = await instructionsOfRefund(client, refund.refund_id, 'split_return');
    if (returns.some((i) => i.status !== 'succeeded')) return;
    // every receiver gave its part back: now the money can go to the payer
    if (refund.destination === 'wallet') {
      await this.finishRefund(client, order, refund, { reserved: true });
      return;
    }
    const instructionId = randomUUID();
    const refunding = await updateRefund(client, refund.refund_id, {
      status: 'refunding',
      refund_instruction_id: instructionId,
    });
    await this.askChannelRefund(client, order, refunding, instructionId);
  }

  /**
   * Records the answer to one of a refund's instructions (a repeated answer changes nothing) and
   * returns the refund when it is still waiting for that answer: its channel refund, or the split
   * returns that come first. Otherwise the answer is only recorded (and logged).
   */
  private async answeredRefund(
    client: PoolClient,
    order: EscrowOrderRow,
    instruction: InstructionRow,
    outcome: ChannelOutcome,
  ): Promise<EscrowRefundRow | undefined> {
    if (!(await answerInstruction(client, instruction.instruction_id, outcome))) return undefined;
    const refund = instruction.refund_id ? await findRefund(client, instruction.refund_id) : undefined;
    const waiting =
      instruction.kind === 'split_return'
        ? refund?.status === 'returning_split'
        : refund?.status === 'refunding' && refund.refund_instruction_id === instruction.instruction_id;
    if (refund && waiting) return refund;
    this.logger.warn(
      { order_id: order.order_id, instruction_id: instruction.instruction_id, refund_status: refund?.status },
      instruction.kind === 'split_return'
        ? 'split return answered for a refund no longer waiting for it; recorded only'
        : 'refund answer for a refund not waiting for it; ignored',
    );
    return undefined;
  }

  private async failRefund(
    client: PoolClient,
    order: EscrowOrderRow,
    refund: EscrowRefundRow,
    stage: 'refund' | 'split_return',
    reason: string,
  ): Promise<void> {
    await updateRefund(client, refund.refund_id, {
      status: 'failed',
      failure_reason: reason || 'FAILED',
      completed_at: new Date(),
    });
    const waitingResolution = order.resolution_refund_id === refund.refund_id;
    await updateOrder(client, order.order_id, {
      refund_pending_minor: order.refund_pending_minor - refund.amount_minor,
      // a resolution whose refund failed is undone: the dispute is open again for staff
      ...(waitingResolution && { resolution_refund_id: null, dispute_resolution: '' }),
    });
    this.refundFailures.inc({ stage });
    this.logger.warn(
      {
        order_id: order.order_id,
        refund_id: refund.refund_id,
        stage,
        reason,
        alert: stage === 'split_return' ? 'SPLIT_RETURN_FAILED' : undefined,
      },
      'order refund failed; its reservation is released',
    );
  }

  /**
   * RefundSucceeded without an instruction: a refund asked of payment directly. Applied once (by
   * payment's refund id): from escrow while the order is held, else from the split parts. What
   * the order no longer has (e.g. after wallet refunds settlement made) is not applied: logged as
   * an anomaly for an operator.
   */
  async applyExternalRefund(client: PoolClient, order: EscrowOrderRow, e: RefundSucceeded): Promise<void> {
    if (await findRefundByPaymentRefund(client, e.refundId)) return;
    const amount = e.amount?.amountMinor ?? 0n;
    if (!e.amount || e.amount.currency !== order.currency || amount <= 0n) {
      this.anomaly('refund_invalid', order, e, 'RefundSucceeded with an amount not in the order currency');
      return;
    }
    let take = 0n;
    let alloc: SplitParts = NO_PARTS;
    let afterSplit = false;
    switch (order.status) {
      case EscrowStatus.ESCROW_STATUS_HELD:
      case EscrowStatus.ESCROW_STATUS_DISPUTED:
        take = minBig(amount, order.held_minor - order.refund_pending_minor);
        break;
      case EscrowStatus.ESCROW_STATUS_COMPLETED: {
        const left = subtractParts(netParts(order), await reservedParts(client, order.order_id));
        take = minBig(amount, sumParts(left));
        if (take > 0n) alloc = allocateRefund(take, order.currency, left);
        afterSplit = true;
        break;
      }
      case EscrowStatus.ESCROW_STATUS_REFUNDED:
      case EscrowStatus.ESCROW_STATUS_UNSPECIFIED:
      case EscrowStatus.UNRECOGNIZED:
        break;
    }
    if (take < amount)
      this.anomaly(
        'refund_exceeds_order',
        order,
        e,
        `only ${take} of ${amount} is left to refund of the order`,
      );
    if (take <= 0n) return;
    const refund = await insertRefund(client, {
      refund_id: randomUUID(),
      order_id: order.order_id,
      origin: 'payment',
      destination: 'original',
      after_split: afterSplit,
      currency: order.currency,
      amount_minor: take,
      merchant_minor: alloc.merchant,
      property_minor: alloc.property,
      commission_minor: alloc.commission,
      tax_minor: alloc.tax,
      status: 'refunding',
      refund_instruction_id: null,
      payment_refund_id: e.refundId,
      reason: 'refunded by payment',
      failure_reason: '',
      requested_by: 'payment',
      tx_id: null,
      completed_at: null,
    });
    await this.finishRefund(client, order, refund, { reserved: false });
  }

  /**
   * A checkout refund's discount and points parts (payment's CheckoutRefunded; the money part is
   * payment's own refund, applyExternalRefund): taken from escrow while the order is held, else
   * from the split parts in proportion; the discount back to its funder's subsidy, the points'
   * value to the payable it came from (docs/settlement-checkout.md). The order must still have
   * them: a refund beyond it is a contract breach and fails (retried, then dead-lettered).
   * Returns the escrow refund's id (undefined when both parts are 0).
   */
  async applyCheckoutRefund(
    client: PoolClient,
    order: EscrowOrderRow,
    r: {
      checkoutId: string;
      refundId: string;
      discountMinor: bigint;
      funder: AccountKey | undefined;
      pointsValueMinor: bigint;
      pointsPlace: AccountKey | undefined;
    },
  ): Promise<string | undefined> {
    const amount = r.discountMinor + r.pointsValueMinor;
    if (amount === 0n) return undefined;
    let alloc: SplitParts = NO_PARTS;
    let afterSplit = false;
    switch (order.status) {
      case EscrowStatus.ESCROW_STATUS_HELD:
      case EscrowStatus.ESCROW_STATUS_DISPUTED: {
        const left = order.held_minor - order.refund_pending_minor;
        if (amount > left)
          throw new Error(
            `checkout refund ${r.refundId}: ${amount} exceeds what order ${order.order_id} holds (${left})`,
          );
        break;
      }
      case EscrowStatus.ESCROW_STATUS_COMPLETED: {
        const left = subtractParts(netParts(order), await reservedParts(client, order.order_id));
        if (amount > sumParts(left))
          throw new Error(
            `checkout refund ${r.refundId}: ${amount} exceeds what is left of order ${order.order_id}'s split (${sumParts(left)})`,
          );
        alloc = allocateRefund(amount, order.currency, left);
        afterSplit = true;
        break;
      }
      case EscrowStatus.ESCROW_STATUS_REFUNDED:
      case EscrowStatus.ESCROW_STATUS_UNSPECIFIED:
      case EscrowStatus.UNRECOGNIZED:
        throw new Error(`checkout refund ${r.refundId}: order ${order.order_id} has nothing left to refund`);
    }
    const posting = checkoutRefundPosting(r.checkoutId, {
      refundId: r.refundId,
      discountMinor: r.discountMinor,
      funder: r.funder,
      pointsValueMinor: r.pointsValueMinor,
      pointsPlace: r.pointsPlace,
      splitReturn: afterSplit ? alloc : undefined,
    });
    if (!posting) return undefined;
    const refund = await insertRefund(client, {
      refund_id: randomUUID(),
      order_id: order.order_id,
      origin: 'checkout',
      destination: 'original',
      after_split: afterSplit,
      currency: order.currency,
      amount_minor: amount,
      merchant_minor: alloc.merchant,
      property_minor: alloc.property,
      commission_minor: alloc.commission,
      tax_minor: alloc.tax,
      status: 'refunding',
      refund_instruction_id: null,
      payment_refund_id: null,
      reason: `checkout refund ${r.refundId}: discount and points`,
      failure_reason: '',
      requested_by: 'payment',
      tx_id: null,
      completed_at: null,
    });
    await this.finishRefund(client, order, refund, {
      reserved: false,
      posting,
      extra: {
        discount_refunded_minor: order.discount_refunded_minor + r.discountMinor,
        points_refunded_minor: order.points_refunded_minor + r.pointsValueMinor,
      },
    });
    return refund.refund_id;
  }

  private anomaly(kind: string, order: EscrowOrderRow, e: RefundSucceeded, why: string): void {
    this.anomalies.inc({ kind });
    this.logger.error(
      { order_id: order.order_id, refund_id: e.refundId, alert: 'ESCROW_ANOMALY', kind },
      `escrow cannot apply a refund of payment in full: ${why}`,
    );
  }
}

const minBig = (a: bigint, b: bigint): bigint => (a < b ? a : b);
