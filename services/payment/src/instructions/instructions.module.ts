import { forwardRef, Module } from '@nestjs/common';
import { ChannelsModule } from '../channels/channels.module';
import { RefundsModule } from '../refunds/refunds.module';
import { InstructionExecutorJob } from './instruction-executor.job';
import { ChannelInstructions } from './instructions.events';
import { InstructionsService } from './instructions.service';

/**
 * Settlement's instructions for the channel (split, split return, refund), consumed from
 * settlement's topic (main.ts wires the inbox consumer to ChannelInstructions) and carried out by
 * the InstructionExecutorJob and the refund machinery. No RPC: settlement talks to payment through
 * these events and payment's answers. Refunds and instructions use each other's services (a refund
 * instruction is refunded by RefundsService, which makes it final through InstructionsService):
 * the modules import each other by forward reference; their providers form no cycle.
 */
@Module({
  imports: [ChannelsModule, forwardRef(() => RefundsModule)],
  providers: [InstructionsService, ChannelInstructions, InstructionExecutorJob],
  exports: [InstructionsService, ChannelInstructions],
})
export class InstructionsModule {}
