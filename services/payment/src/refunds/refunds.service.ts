import { randomUUID } from 'crypto';
import { Inject, Injectable } from '@nestjs/common';
import {
  CitybaseClaims,
  inTenancy,
  Logger,
  LOGGER,
  Mutations,
  Outbox,
  OUTBOX,
  PG_POOL,
  Pool,
  PoolClient,
  SERVICE_CONFIG,
  toTimestamp,
  withTransaction,
} from '@citybase/platform';
import { RefundStatus } from '@citybase/contracts/citybase/payment/v1/payment';
import { PaymentEvents } from '@citybase/contracts/events';
import { ChannelRefund, ChannelRejectedError, ChannelUnavailableError } from '../channels/channel-adapter';
import { ChannelRouter } from '../channels/channel-router';
import type { PaymentConfig } from '../config';
import { InstructionsService } from '../instructions/instructions.service';
import {
  decideRefund,
  InstructedRefundCommand,
  RefundFailureReasons,
  RefundPaymentCommand,
  refundRefusal,
  RefundTransition,
  SETTLEMENT_CLIENT_ID,
} from './refunds.domain';
import { RefundErrors } from './refunds.errors';
import {
  addRefunded,
  claimDueRefunds,
  committedRefunds,
  completeRefund,
  findPayment,
  findRefund,
  findRefundOfInstruction,
  insertRefund,
  lockPayment,
  RefundedPayment,
  RefundRow,
  releaseReconcileLease,
} from './refunds.store';

/** Where a channel posts a payment's notifications (the same route serves orders and refunds). */
function notifyUrl(publicUrl: string, channelId: string, paymentId: string): string {
  return `${publicUrl.replace(/\/+$/, '')}/channels/${encodeURIComponent(channelId)}/notifications/${paymentId}`;
}

function isNoSuchRefund(err: unknown): boolean {
  return err instanceof ChannelRejectedError && /NOT_EXIST|NOT_FOUND/.test(err.code);
}

/**
 * Runs inside the transaction in which a refund becomes final (after its event is written): the
 * checkout refund whose money part it is completes in the same commit.
 */
export type RefundFinalHook = (client: PoolClient, refund: RefundRow) => Promise<void>;

/** client_id of refunds a checkout refund asked for (RefundCheckout's money part). */
export const CHECKOUT_CLIENT_ID = 'checkout';

/**
 * Refunds of succeeded payments: full, partial and several, never more in total than was paid.
 * A refund is accepted (processing) under the payment's row lock, then started at the channel;
 * its outcome arrives by notification, query or the channel-poll job and is applied by one
 * compare-and-set (applyChannelRefund), which also adds it to the payment's refunded total and
 * writes RefundSucceeded or RefundFailed exactly once.
 */
@Injectable()
export class RefundsService {
  private readonly finalHooks: RefundFinalHook[] = [];

  constructor(
    @Inject(PG_POOL) private readonly pool: Pool,
    @Inject(OUTBOX) private readonly outbox: Outbox,
    @Inject(LOGGER) private readonly logger: Logger,
    @Inject(SERVICE_CONFIG) private readonly config: PaymentConfig,
    private readonly router: ChannelRouter,
    private readonly mutations: Mutations,
    private readonly instructions: InstructionsService,
  ) {}

  /** Registers a hook run in the transaction of every refund's final status (checkouts). */
  onFinalStatus(hook: RefundFinalHook): void {
    this.finalHooks.push(hook);
  }

  /**
   * The money part of a checkout refund, inside the checkout's transaction: the rules of
   * RefundPayment under the payment's row lock (the caller has locked the checkout, and checked
   * the amount against the checkout's own refund rule). The refund is processing and due for the
   * channel-poll job at once; `startRefund` starts it at the channel after commit. Its request id is
   * the checkout refund's id, its client CHECKOUT_CLIENT_ID. Throws the RefundPayment error when the
   * payment cannot be refunded that much.
   */
  async refundForCheckout(
    client: PoolClient,
    refundId: string,
    cmd: RefundPaymentCommand,
  ): Promise<RefundRow> {
    const payment = await lockPayment(client, cmd.paymentId);
    if (!payment) throw RefundErrors.paymentNotFound(cmd.paymentId);
    const refundable = payment.amount_minor - (await committedRefunds(client, payment.payment_id));
    switch (refundRefusal(payment, cmd, refundable)) {
      case 'CURRENCY_MISMATCH':
        throw RefundErrors.currencyMismatch(payment.currency);
      case 'PAYMENT_NOT_SUCCEEDED':
        throw RefundErrors.paymentNotSucceeded(payment.payment_id);
      case 'REFUND_EXCEEDS_PAID':
        throw RefundErrors.exceedsPaid(refundable < 0n ? 0n : refundable);
      case undefined:
        break;
    }
    return insertRefund(client, refundId, {
      clientId: CHECKOUT_CLIENT_ID,
      cmd,
      channel: payment.channel,
      firstCheckDelayMs: 0,
    });
  }

  /** Starts a processing refund at its channel now (after the commit that accepted it). */
  async startRefund(refundId: string): Promise<RefundRow | undefined> {
    const refund = await findRefund(this.pool, refundId);
    if (!refund || refund.status !== RefundStatus.REFUND_STATUS_PROCESSING) return refund;
    const payment = await findPayment(this.pool, refund.payment_id);
    if (!payment) return refund;
    return this.startAtChannel(refund, payment);
  }

  /**
   * RefundPayment through the use-case pipeline (ADR 0007): the payment locked (refunds of one
   * payment are decided one at a time), then the request key, whose resource is the new refund; a
   * retry answers that refund as it is now. A new refund is started at the channel after commit.
   */
  async refundPayment(claims: CitybaseClaims, cmd: RefundPaymentCommand): Promise<RefundRow> {
    const { result, replayed } = await this.mutations.runWithOutcome({
      method: 'PaymentService.RefundPayment',
      claims,
      requestId: cmd.requestId,
      command: cmd,
      target: {
        load: (client) => lockPayment(client, cmd.paymentId),
        tenancy: (payment) => ({ operatorId: payment.operator_id, projectId: payment.project_id }),
        notFound: () => RefundErrors.paymentNotFound(cmd.paymentId),
        // another tenant's payment is PERMISSION_DENIED (this RPC's contract)
        outsideTenancy: 'forbidden',
      },
      execute: async ({ client, target: payment, resourceId, note }) => {
        const refundable = payment.amount_minor - (await committedRefunds(client, payment.payment_id));
        const refusal = refundRefusal(payment, cmd, refundable);
        switch (refusal) {
          case 'CURRENCY_MISMATCH':
            throw RefundErrors.currencyMismatch(payment.currency);
          case 'PAYMENT_NOT_SUCCEEDED':
            throw RefundErrors.paymentNotSucceeded(payment.payment_id);
          case 'REFUND_EXCEEDS_PAID':
            throw RefundErrors.exceedsPaid(refundable < 0n ? 0n : refundable);
          case undefined:
            break;
        }
        const refund = await insertRefund(client, resourceId, {
          clientId: claims.sub,
          cmd,
          channel: payment.channel,
          firstCheckDelayMs: this.config.PAYMENT_RECONCILE_INTERVAL_MS,
        });
        note({
          refund_id: refund.refund_id,
          payment_id: refund.payment_id,
          amount_minor: refund.amount_minor.toString(),
        });
        return { refund, payment };
      },
      replay: async ({ client, target: payment, resourceId, note }) => {
        note({ refund_id: resourceId, payment_id: payment.payment_id });
        // refunds are never deleted
        const refund = await findRefund(client, resourceId);
        if (!refund) throw new Error(`refund ${resourceId} of a replayed request is missing`);
        return { refund, payment };
      },
      done: 'refund accepted',
    });
    return replayed ? result.refund : this.startAtChannel(result.refund, result.payment);
  }

  /**
   * A refund settlement instructed (ChannelRefundRequested), inside the inbox transaction that
   * recorded the instruction: the rules of RefundPayment under the payment's row lock. Accepted, the
   * refund is processing and due for the channel-poll job at once, which starts it at the channel (never
   * from this transaction); RefundSucceeded / RefundFailed of its outcome carry the instruction id.
   * Refused, no refund is written: RefundFailed with the instruction id and the rule's code.
   * The caller has checked that the payment lies in the instruction's tenancy.
   *
   * This is no RPC and takes no request key: the inbox drops a redelivered event (by event id), the
   * instruction is recorded once (channel_instructions, by instruction id; an instruction id seen
   * before never gets here), and a refund carries out at most one instruction (unique
   * refunds.instruction_id, checked below as well). The refund row records client "settlement" and
   * the instruction id as its client_id / request_id: who asked and under which id, as data.
   */
  async refundForInstruction(
    client: PoolClient,
    cmd: InstructedRefundCommand,
  ): Promise<RefundRow | undefined> {
    const payment = await lockPayment(client, cmd.paymentId);
    if (!payment) {
      await this.refuseInstruction(client, cmd, RefundErrors.paymentNotFound(cmd.paymentId).code);
      return undefined;
    }
    const refundCmd: RefundPaymentCommand = {
      requestId: cmd.instructionId,
      paymentId: payment.payment_id,
      currency: cmd.currency,
      amountMinor: cmd.amountMinor,
      reason: cmd.reason,
    };
    const existing = await findRefundOfInstruction(client, cmd.instructionId);
    if (existing) {
      if (
        existing.payment_id !== refundCmd.paymentId ||
        existing.currency !== refundCmd.currency ||
        existing.amount_minor !== refundCmd.amountMinor ||
        existing.reason !== refundCmd.reason
      )
        this.logger.warn(
          { instruction_id: cmd.instructionId, refund_id: existing.refund_id },
          'instruction id already used for another refund; ignored',
        );
      return existing;
    }
    const refundable = payment.amount_minor - (await committedRefunds(client, payment.payment_id));
    const refusal = refundRefusal(payment, refundCmd, refundable);
    if (refusal) {
      await this.refuseInstruction(client, cmd, refusal, payment);
      return undefined;
    }
    const refund = await insertRefund(client, randomUUID(), {
      clientId: SETTLEMENT_CLIENT_ID,
      cmd: refundCmd,
      channel: payment.channel,
      firstCheckDelayMs: 0,
      instructionId: cmd.instructionId,
    });
    this.logger.info(
      {
        refund_id: refund.refund_id,
        payment_id: refund.payment_id,
        instruction_id: cmd.instructionId,
        amount_minor: refund.amount_minor.toString(),
      },
      'instructed refund accepted',
    );
    return refund;
  }

  /**
   * Answers a refund instruction that cannot be carried out with RefundFailed (no refund id) and
   * fails the instruction, in the caller's transaction. `payment` when it lies in the instruction's
   * tenancy; otherwise the event names only what the instruction said.
   */
  async refuseInstruction(
    client: PoolClient,
    cmd: InstructedRefundCommand,
    reason: string,
    payment?: RefundedPayment,
  ): Promise<void> {
    const tenancy = {
      operatorId: cmd.operatorId,
      projectId: cmd.projectId,
      merchantId: payment?.merchant_id ?? '',
    };
    const failed = await this.instructions.finishRefundInstruction(client, cmd.instructionId, 'failed', {
      reason,
    });
    if (!failed) return;
    await this.outbox.enqueue(
      client,
      PaymentEvents.RefundFailed,
      {
        refundId: '',
        paymentId: cmd.paymentId,
        tenancy,
        merchantId: tenancy.merchantId,
        amount: { currency: cmd.currency, amountMinor: cmd.amountMinor },
        channel: payment?.channel ?? '',
        reason,
        occurredAt: toTimestamp(new Date()),
        instructionId: cmd.instructionId,
      },
      { key: cmd.paymentId, subject: cmd.instructionId, tenancy },
    );
    this.logger.info(
      { instruction_id: cmd.instructionId, payment_id: cmd.paymentId, reason },
      'instructed refund refused',
    );
  }

  async getRefund(claims: CitybaseClaims, refundId: string): Promise<RefundRow> {
    const refund = await findRefund(this.pool, refundId);
    const payment = refund && (await findPayment(this.pool, refund.payment_id));
    // another tenant's refund answers exactly like a missing one
    if (
      !refund ||
      !payment ||
      !inTenancy(claims, { operatorId: payment.operator_id, projectId: payment.project_id })
    ) {
      throw RefundErrors.notFound(refundId);
    }
    return refund;
  }

  /** Applies the channel's view of a refund in its own transaction. */
  applyChannelRefund(refundId: string, news: ChannelRefund): Promise<RefundRow | undefined> {
    return withTransaction(this.pool, (client) => this.applyChannelRefundIn(client, refundId, news));
  }

  /**
   * The one transition of a refund, inside the caller's transaction: the payment row is locked
   * first (the order refundPayment locks in), then the refund moves from processing once.
   */
  async applyChannelRefundIn(
    client: PoolClient,
    refundId: string,
    news: ChannelRefund,
  ): Promise<RefundRow | undefined> {
    const current = await findRefund(client, refundId);
    if (!current) {
      this.logger.warn({ refund_id: refundId }, 'channel news about an unknown refund; ignored');
      return undefined;
    }
    if (news.paymentId !== current.payment_id) {
      this.logger.error(
        { refund_id: refundId, payment_id: current.payment_id, news_payment_id: news.paymentId },
        'refund news names another payment; ignored',
      );
      return current;
    }
    const payment = await lockPayment(client, current.payment_id);
    if (!payment) throw new Error(`payment ${current.payment_id} does not exist`);
    const refund = (await findRefund(client, refundId)) ?? current;
    const decision = decideRefund(
      { status: refund.status, amountMinor: refund.amount_minor },
      news,
      new Date(),
    );
    switch (decision.kind) {
      case 'none':
        return refund;
      case 'anomaly':
        this.logger.error(
          { refund_id: refundId, why: decision.why, alert: 'REFUND_ANOMALY' },
          'channel reports a refund state that must not happen',
        );
        return refund;
      case 'transition':
        return this.complete(client, payment, refundId, decision.transition);
    }
  }

  private async complete(
    client: PoolClient,
    payment: RefundedPayment,
    refundId: string,
    t: RefundTransition,
  ): Promise<RefundRow | undefined> {
    const done = await completeRefund(client, refundId, t);
    if (!done) return findRefund(client, refundId);
    const tenancy = {
      operatorId: payment.operator_id,
      projectId: payment.project_id,
      merchantId: payment.merchant_id,
    };
    const opts = { key: payment.payment_id, subject: refundId, tenancy };
    const occurredAt = toTimestamp(done.completed_at ?? done.updated_at);
    if (done.status === RefundStatus.REFUND_STATUS_SUCCEEDED) {
      const total = await addRefunded(client, payment.payment_id, done.amount_minor);
      await this.outbox.enqueue(
        client,
        PaymentEvents.RefundSucceeded,
        {
          refundId,
          paymentId: payment.payment_id,
          tenancy,
          merchantId: payment.merchant_id,
          scenario: payment.scenario,
          amount: { currency: done.currency, amountMinor: done.amount_minor },
          refundedTotal: { currency: done.currency, amountMinor: total },
          channel: done.channel,
          channelRefundId: done.channel_refund_id,
          occurredAt,
          instructionId: done.instruction_id,
        },
        opts,
      );
    } else {
      await this.outbox.enqueue(
        client,
        PaymentEvents.RefundFailed,
        {
          refundId,
          paymentId: payment.payment_id,
          tenancy,
          merchantId: payment.merchant_id,
          amount: { currency: done.currency, amountMinor: done.amount_minor },
          channel: done.channel,
          reason: done.failure_reason,
          occurredAt,
          instructionId: done.instruction_id,
        },
        opts,
      );
    }
    for (const hook of this.finalHooks) await hook(client, done);
    if (done.instruction_id !== '') {
      const succeeded = done.status === RefundStatus.REFUND_STATUS_SUCCEEDED;
      await this.instructions.finishRefundInstruction(
        client,
        done.instruction_id,
        succeeded ? 'succeeded' : 'failed',
        {
          refund_id: refundId,
          channel_refund_id: done.channel_refund_id,
          ...(!succeeded && { reason: done.failure_reason }),
        },
      );
    }
    this.logger.info(
      {
        refund_id: refundId,
        payment_id: payment.payment_id,
        status: done.status,
        reason: done.failure_reason || undefined,
      },
      'refund completed',
    );
    return done;
  }

  /** A refund the channel definitely refused (or can never be asked) fails. */
  private fail(refundId: string, reason: string): Promise<RefundRow | undefined> {
    return withTransaction(this.pool, async (client) => {
      const refund = await findRefund(client, refundId);
      if (!refund) return undefined;
      const payment = await lockPayment(client, refund.payment_id);
      if (!payment) throw new Error(`payment ${refund.payment_id} does not exist`);
      return this.complete(client, payment, refundId, {
        to: RefundStatus.REFUND_STATUS_FAILED,
        completedAt: new Date(),
        failureReason: reason,
      });
    });
  }

  /**
   * Starts the refund at the payment's channel (idempotent there by refund id) and applies the
   * answer. No answer leaves it processing: the channel-poll job asks again.
   */
  private async startAtChannel(
    refund: RefundRow,
    payment: { project_id: string; amount_minor: bigint },
  ): Promise<RefundRow> {
    const routed = await this.router.account(this.pool, {
      projectId: payment.project_id,
      channelId: refund.channel,
    });
    if (!routed) {
      this.logger.error(
        { refund_id: refund.refund_id, channel: refund.channel },
        'no account at the payment channel; refund fails',
      );
      return (await this.fail(refund.refund_id, RefundFailureReasons.noChannelAccount)) ?? refund;
    }
    try {
      const news = await routed.adapter.refund(routed.account, {
        paymentId: refund.payment_id,
        refundId: refund.refund_id,
        amountMinor: refund.amount_minor,
        totalMinor: payment.amount_minor,
        reason: refund.reason,
        notifyUrl: notifyUrl(this.config.PAYMENT_PUBLIC_URL, refund.channel, refund.payment_id),
      });
      return (await this.applyChannelRefund(refund.refund_id, news)) ?? refund;
    } catch (err) {
      if (err instanceof ChannelRejectedError) {
        this.logger.warn({ refund_id: refund.refund_id, code: err.code }, 'channel refused the refund');
        return (await this.fail(refund.refund_id, err.code)) ?? refund;
      }
      if (err instanceof ChannelUnavailableError) {
        this.logger.warn(
          { refund_id: refund.refund_id, err: err.message },
          'no answer from the channel starting a refund; the channel-poll job asks again',
        );
        return (await findRefund(this.pool, refund.refund_id)) ?? refund;
      }
      throw err;
    }
  }

  /** One channel-poll pass over processing refunds that are due: query the channel, apply its answer. */
  async reconcileDue(opts: { limit: number; leaseMs: number; stopped: () => boolean }): Promise<number> {
    const due = await withTransaction(this.pool, (client) =>
      claimDueRefunds(client, opts.limit, opts.leaseMs, this.config.PAYMENT_RECONCILE_INTERVAL_MS),
    );
    for (const refund of due) {
      if (opts.stopped()) break;
      try {
        await this.reconcileOne(refund);
      } catch (err) {
        this.logger.error({ err, refund_id: refund.refund_id }, 'refund reconciliation failed');
      } finally {
        await releaseReconcileLease(this.pool, refund.refund_id).catch(() => undefined);
      }
    }
    return due.length;
  }

  private async reconcileOne(refund: RefundRow): Promise<void> {
    const payment = await findPayment(this.pool, refund.payment_id);
    if (!payment) return;
    const routed = await this.router.account(this.pool, {
      projectId: payment.project_id,
      channelId: refund.channel,
    });
    if (!routed) {
      await this.fail(refund.refund_id, RefundFailureReasons.noChannelAccount);
      return;
    }
    try {
      const news = await routed.adapter.queryRefund(routed.account, refund.payment_id, refund.refund_id);
      await this.applyChannelRefund(refund.refund_id, news);
    } catch (err) {
      if (isNoSuchRefund(err)) {
        // the first call never reached the channel: start it now (idempotent by refund id)
        await this.startAtChannel(refund, payment);
        return;
      }
      if (!(err instanceof ChannelUnavailableError) && !(err instanceof ChannelRejectedError)) throw err;
      this.logger.debug({ refund_id: refund.refund_id, err: err.message }, 'refund query got no answer');
    }
  }
}
