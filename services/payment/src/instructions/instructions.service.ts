import { Inject, Injectable } from '@nestjs/common';
import {
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
import { PaymentEvents } from '@citybase/contracts/events';
import type { RecordedInstruction } from './instructions.domain';
import {
  finishInstruction,
  findInstructedPayment,
  findInstruction,
  InstructedPaymentRow,
  insertInstruction,
  InstructionRow,
} from './instructions.store';

/** How an instruction ended, as the executor learned it. */
export type InstructionOutcome =
  | { status: 'succeeded'; channel: string; receivers: { account: string; amountMinor: bigint }[] }
  | { status: 'failed'; channel: string; reason: string; why?: string };

/**
 * The channel instructions settlement sends (citybase.settlement.events.v1): recorded once by id
 * (ChannelInstructions in instructions.events.ts, in the inbox transaction), carried out by the
 * InstructionExecutorJob (splits, split returns) or the refund machinery (refunds), and made final
 * once, by the transaction that answers them: ChannelSplitSucceeded / ChannelSplitFailed,
 * ChannelSplitReturnSucceeded / ChannelSplitReturnFailed here, RefundSucceeded / RefundFailed with
 * the instruction id by RefundsService.
 */
@Injectable()
export class InstructionsService {
  constructor(
    @Inject(PG_POOL) private readonly pool: Pool,
    @Inject(OUTBOX) private readonly outbox: Outbox,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  /**
   * Records an instruction received in `ctx`, in the inbox transaction. True if the instruction is
   * new; a known instruction id changes nothing.
   */
  async record(client: PoolClient, instruction: RecordedInstruction, ctx: EventContext): Promise<boolean> {
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

  /** The payment an instruction names, as the instruction path reads it (in the caller's transaction). */
  findInstructedPayment(client: PoolClient, paymentId: string): Promise<InstructedPaymentRow | undefined> {
    return findInstructedPayment(client, paymentId);
  }

  /**
   * Makes a refund instruction final in the caller's transaction (the refund machinery answers it).
   * False if it was final already (another process, or a duplicate answer, got there first).
   */
  async finishRefundInstruction(
    client: PoolClient,
    instructionId: string,
    status: 'succeeded' | 'failed',
    result: Record<string, unknown>,
  ): Promise<boolean> {
    return (await finishInstruction(client, instructionId, status, result)) !== undefined;
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
