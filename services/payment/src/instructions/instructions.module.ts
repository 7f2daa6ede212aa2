import { Module } from '@nestjs/common';
import { ChannelsModule } from '../channels/channels.module';
import { RefundsModule } from '../refunds/refunds.module';
import { InstructionExecutorJob } from './instruction-executor.job';
import { ChannelInstructions } from './instructions.service';

/**
 * Settlement's instructions for the channel (split, split return, refund), consumed from
 * settlement's topic (main.ts wires the inbox consumer to ChannelInstructions) and carried out by
 * the InstructionExecutorJob and the refund machinery. No RPC: settlement talks to payment through
 * these events and payment's answers.
 */
@Module({
  imports: [ChannelsModule, RefundsModule],
  providers: [ChannelInstructions, InstructionExecutorJob],
  exports: [ChannelInstructions],
})
export class InstructionsModule {}
