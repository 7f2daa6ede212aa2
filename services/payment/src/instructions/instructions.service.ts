import { Inject, Injectable } from '@nestjs/common';
import {
  EventConsumer,
  EventSubscriber,
  Subscribe,
  EventContext,
  Logger,
  LOGGER,
  Outbox,
  OUTBOX,
  PG_POOL,
  Pool,
  PoolClient,
  requestFingerprint,
  toTimestamp,
  withTransaction,
} from '@citybase/platform';
import type {
  ChannelRefundRequested,
  ChannelSplitRequested,
  ChannelSplitReturnRequested,
} from '@citybase/contracts/citybase/settlement/v1/events';
import { PaymentEvents, SettlementEvents } from '@citybase/contracts/events';
import { RefundsService } from '../refunds/refunds.service';
import {
  InstructionFailureReasons,
  instructedRefundAmount,
  paymentOfInstruction,
  RecordedInstruction,
  refundInstruction,
  splitInstruction,
  splitReturnInstruction,
} from './instructions.domain';
import {
  finishInstruction,
  findInstructedPayment,
  findInstruction,
  InstructedPaymentRow,
  instructedPayment,
  insertInstruction,
  InstructionRow,
} from './instructions.store';

/** How an instruction ended, as the executor learned it. */
export type InstructionOutcome =
  | { status: 'succeeded'; channel: string; receivers: { account: string; amountMinor: bigint }[] }
  | { status: 'failed'; channel: string; reason: string; why?: string };

/**
 * Instructions settlement sends for the channel's held funds and refunds (citybase.settlement.events.v1).
 * The inbox handlers only record them, inside the inbox transaction (a duplicate instruction id is
 * a no-op), and never call a channel there: splits and split returns are carried out by the
 * InstructionExecutorJob, refunds by the refund machinery. Each instruction is answered once, by the
 * transaction that makes it final: ChannelSplitSucceeded / ChannelSplitFailed,
 * ChannelSplitReturnSucceeded / ChannelSplitReturnFailed, or RefundSucceeded / RefundFailed with
 * the instruction id.
 */
@EventConsumer('payment.settlement-instructions')
@Injectable()
export class ChannelInstructions implements EventSubscriber {
  constructor(
    @Inject(PG_POOL) private readonly pool: Pool,
    @Inject(OUTBOX) private readonly outbox: Outbox,
    @Inject(LOGGER) private readonly logger: Logger,
    private readonly refunds: RefundsService,
  ) {}

  async onSplitRequested(client: PoolClient, event: ChannelSplitRequested, ctx: EventContext): Promise<void> {
    await this.record(client, splitInstruction(event), ctx);
  }
  subscribe(on: Subscribe): void {
    on(SettlementEvents.ChannelSplitRequested, (client, event, ctx) =>
      this.onSplitRequested(client, event, ctx),
    );
    on(SettlementEvents.ChannelSplitReturnRequested, (client, event, ctx) =>
      this.onSplitReturnRequested(client, event, ctx),
    );
    on(SettlementEvents.ChannelRefundRequested, (client, event, ctx) =>
      this.onRefundRequested(client, event, ctx),
    );
  }

  async onSplitReturnRequested(
    client: PoolClient,
    event: ChannelSplitReturnRequested,
    ctx: EventContext,
  ): Promise<void> {
    await this.record(client, splitReturnInstruction(event), ctx);
  }

  /**
   * Records the instruction and, in the same transaction, asks for the refund through the refund
   * path (the payment's lock, never more than is left to refund), or refuses it at once.
   */
  async onRefundRequested(
    client: PoolClient,
    event: ChannelRefundRequested,
    ctx: EventContext,
  ): Promise<void> {
    const instruction = refundInstruction(event);
    if (!(await this.record(client, instruction, ctx))) return;
    const amount = instructedRefundAmount(instruction.payload);
    const cmd = {
      instructionId: instruction.instructionId,
      paymentId: instruction.paymentId,
      operatorId: instruction.operatorId,
      projectId: instruction.projectId,
      currency: instruction.payload.currency,
      amountMinor: amount.kind === 'ok' ? amount.amountMinor : 0n,
      reason: amount.kind === 'ok' ? amount.reason : '',
    };
    const payment = paymentOfInstruction(
      instruction,
      instructedPayment(await findInstructedPayment(client, cmd.paymentId)),
    );
    if (!payment) {
      await this.refunds.refuseInstruction(client, cmd, InstructionFailureReasons.paymentNotFound);
      return;
    }
    if (amount.kind === 'invalid') {
      this.logger.warn({ instruction_id: cmd.instructionId, why: amount.why }, 'refund instruction invalid');
      await this.refunds.refuseInstruction(client, cmd, InstructionFailureReasons.invalid);
      return;
    }
    await this.refunds.refundForInstruction(client, cmd);
  }

  /** True if the instruction is new; a known instruction id changes nothing. */
  private async record(
    client: PoolClient,
    instruction: RecordedInstruction,
    ctx: EventContext,
  ): Promise<boolean> {
    const recorded = await insertInstruction(client, instruction);
    const log = {
      instruction_id: instruction.instructionId,
      kind: instruction.kind,
      payment_id: instruction.paymentId,
      event_id: ctx.envelope.id,
    };
    if (!recorded) {
      const known = await findInstruction(client, instruction.instructionId);
      const same =
        known?.kind === instruction.kind &&
        known.payment_id === instruction.paymentId &&
        requestFingerprint(known.payload) === requestFingerprint(instruction.payload);
      if (same) this.logger.info(log, 'instruction already recorded; duplicate ignored');
      else this.logger.warn(log, 'instruction id already recorded with other content; ignored');
      return false;
    }
    this.logger.info(log, 'instruction recorded');
    return true;
  }

  /**
   * Makes a split or split return final and writes its answer, in one transaction: once, whoever
   * gets there first. `payment` only if it lies in the instruction's tenancy.
   */
  async finish(
    instruction: InstructionRow,
    payment: InstructedPaymentRow | undefined,
    outcome: InstructionOutcome,
  ): Promise<boolean> {
    const result =
      outcome.status === 'succeeded'
        ? {
            channel: outcome.channel,
            receivers: outcome.receivers.map((r) => ({
              account: r.account,
              amount_minor: r.amountMinor.toString(),
            })),
          }
        : { channel: outcome.channel, reason: outcome.reason, ...(outcome.why && { why: outcome.why }) };
    const done = await withTransaction(this.pool, async (client) => {
      const final = await finishInstruction(client, instruction.instruction_id, outcome.status, result);
      if (!final) return false;
      await this.answer(client, instruction, payment, outcome);
      return true;
    });
    if (done)
      this.logger.info(
        {
          instruction_id: instruction.instruction_id,
          kind: instruction.kind,
          payment_id: instruction.payment_id,
          status: outcome.status,
          reason: outcome.status === 'failed' ? outcome.reason : undefined,
          why: outcome.status === 'failed' ? outcome.why : undefined,
        },
        'instruction completed',
      );
    return done;
  }

  private async answer(
    client: PoolClient,
    instruction: InstructionRow,
    payment: InstructedPaymentRow | undefined,
    outcome: InstructionOutcome,
  ): Promise<void> {
    const tenancy = {
      operatorId: instruction.operator_id,
      projectId: instruction.project_id,
      merchantId: payment?.merchant_id ?? '',
    };
    const base = {
      instructionId: instruction.instruction_id,
      paymentId: instruction.payment_id,
      tenancy,
      occurredAt: toTimestamp(new Date()),
    };
    const opts = { key: instruction.payment_id, subject: instruction.instruction_id, tenancy };
    switch (instruction.kind) {
      case 'split': {
        if (outcome.status === 'succeeded') {
          const currency = payment?.currency ?? '';
          await this.outbox.enqueue(
            client,
            PaymentEvents.ChannelSplitSucceeded,
            {
              ...base,
              channel: outcome.channel,
              receivers: outcome.receivers.map((r) => ({
                account: r.account,
                amount: { currency, amountMinor: r.amountMinor },
              })),
            },
            opts,
          );
        } else {
          await this.outbox.enqueue(
            client,
            PaymentEvents.ChannelSplitFailed,
            { ...base, channel: outcome.channel, reason: outcome.reason },
            opts,
          );
        }
        return;
      }
      case 'split_return': {
        const { account, currency, amount_minor } = instruction.payload;
        if (outcome.status === 'succeeded') {
          await this.outbox.enqueue(
            client,
            PaymentEvents.ChannelSplitReturnSucceeded,
            { ...base, account, amount: { currency, amountMinor: BigInt(amount_minor) } },
            opts,
          );
        } else {
          await this.outbox.enqueue(
            client,
            PaymentEvents.ChannelSplitReturnFailed,
            { ...base, account, reason: outcome.reason },
            opts,
          );
        }
        return;
      }
      case 'refund':
        // answered by the refund machinery (RefundSucceeded / RefundFailed with the instruction id)
        throw new Error(`refund instruction ${instruction.instruction_id} is not the executor's`);
    }
  }
}
