import { Inject, Injectable } from '@nestjs/common';
import {
  EventConsumer,
  EventContext,
  EventSubscriber,
  Logger,
  LOGGER,
  PoolClient,
  Subscribe,
} from '@citybase/platform';
import type {
  ChannelRefundRequested,
  ChannelSplitRequested,
  ChannelSplitReturnRequested,
} from '@citybase/contracts/citybase/settlement/v1/events';
import { SettlementEvents } from '@citybase/contracts/events';
import { RefundsService } from '../refunds/refunds.service';
import {
  InstructionFailureReasons,
  instructedRefundAmount,
  paymentOfInstruction,
  refundInstruction,
  splitInstruction,
  splitReturnInstruction,
} from './instructions.domain';
import { InstructionsService } from './instructions.service';
import { instructedPayment } from './instructions.store';

/**
 * Consumer of settlement's instructions for the channel's held funds and refunds
 * (citybase.settlement.events.v1; main.ts wires the inbox consumer to it). The handlers only record
 * them, inside the inbox transaction (a duplicate instruction id is a no-op), and never call a
 * channel there: splits and split returns are carried out by the InstructionExecutorJob, refunds by
 * the refund machinery, which is asked for the refund in the same transaction.
 */
@EventConsumer('payment.settlement-instructions')
@Injectable()
export class ChannelInstructions implements EventSubscriber {
  constructor(
    @Inject(LOGGER) private readonly logger: Logger,
    private readonly instructions: InstructionsService,
    private readonly refunds: RefundsService,
  ) {}

  async onSplitRequested(client: PoolClient, event: ChannelSplitRequested, ctx: EventContext): Promise<void> {
    await this.instructions.record(client, splitInstruction(event), ctx);
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
    await this.instructions.record(client, splitReturnInstruction(event), ctx);
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
    if (!(await this.instructions.record(client, instruction, ctx))) return;
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
      instructedPayment(await this.instructions.findInstructedPayment(client, cmd.paymentId)),
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
}
