import { Inject, Injectable } from '@nestjs/common';
import { Counter, Registry } from 'prom-client';
import {
  Logger,
  LOGGER,
  METRICS_REGISTRY,
  PG_POOL,
  Pool,
  SERVICE_CONFIG,
  withTransaction,
  PeriodicJob,
} from '@citybase/platform';
import { ChannelRejectedError, ChannelUnavailableError } from '../channels/channel-adapter';
import { ChannelRouter, RoutedChannel } from '../channels/channel-router';
import type { PaymentConfig } from '../config';
import { nextCheckDelayMs } from '../shared/jobs';
import {
  ChannelOutcome,
  InstructionFailureReasons,
  InstructionPlan,
  paymentOfInstruction,
  planInstruction,
  splitOutcome,
  splitReturnOutcome,
} from './instructions.domain';
import { InstructionsService } from './instructions.service';
import {
  claimDueInstructions,
  findInstructedPayment,
  findInstruction,
  InstructedPaymentRow,
  instructedPayment,
  InstructionRow,
  postponeInstruction,
  releaseInstructionLease,
} from './instructions.store';

/** Instructions claimed per batch, and how many of them are worked on at once. */
const BATCH = 32;
const PARALLEL = 8;

type Attempt = 'succeeded' | 'failed' | 'retried' | 'deferred';

/**
 * Carries out settlement's split and split-return instructions at the payment's channel, every
 * PAYMENT_INSTRUCTION_INTERVAL_MS. Pending instructions that are due are claimed with FOR UPDATE
 * SKIP LOCKED and leased, so several processes never work on one at once; the channel call is
 * idempotent by the instruction id (the channel's outSplitNo / outReturnNo), so a call repeated
 * after a lost answer or an expired lease does nothing twice. A definite refusal of the channel
 * fails the instruction with the channel's code; no answer (unavailable, timeout) leaves it pending,
 * tried again with backoff for as long as it takes. Making it final and writing its answer event is
 * one transaction (InstructionsService.finish).
 */
@Injectable()
export class InstructionExecutorJob extends PeriodicJob {
  private readonly attempts: Counter<'kind' | 'outcome'>;

  constructor(
    @Inject(PG_POOL) private readonly pool: Pool,
    @Inject(LOGGER) private readonly logger: Logger,
    @Inject(SERVICE_CONFIG) private readonly config: PaymentConfig,
    @Inject(METRICS_REGISTRY) registry: Registry,
    private readonly router: ChannelRouter,
    private readonly instructions: InstructionsService,
  ) {
    super({
      name: 'instruction executor',
      intervalMs: config.PAYMENT_INSTRUCTION_INTERVAL_MS,
      logger,
    });
    this.attempts = new Counter({
      name: 'payment_channel_instruction_attempts_total',
      help: 'Attempts at settlement instructions (split, split_return) by outcome: succeeded, failed, retried (no answer from the channel), deferred',
      labelNames: ['kind', 'outcome'],
      registers: [registry],
    });
  }

  /** How long claimed instructions stay leased: enough for the channel calls of one batch. */
  private get leaseMs(): number {
    return Math.ceil(BATCH / PARALLEL) * this.config.PAYMENT_CHANNEL_TIMEOUT_MS + 5_000;
  }

  /** One pass: claims due instructions in batches until there is no full batch left (or the process stops). */
  async runOnce(): Promise<void> {
    await this.inBatches(async () => {
      const due = await withTransaction(this.pool, (client) =>
        claimDueInstructions(client, BATCH, this.leaseMs),
      );
      await this.eachInParallel(due, PARALLEL, (i) => this.execute(i));
      return due.length >= BATCH;
    });
  }

  private async execute(instruction: InstructionRow): Promise<void> {
    const log = {
      instruction_id: instruction.instruction_id,
      kind: instruction.kind,
      payment_id: instruction.payment_id,
      attempts: instruction.attempts,
    };
    try {
      if (instruction.kind === 'refund') return; // the refund machinery's, never claimed
      // the payment only if it is the instruction's: another tenant's payment is named nowhere
      const stored = await findInstructedPayment(this.pool, instruction.payment_id);
      const header = {
        instructionId: instruction.instruction_id,
        paymentId: instruction.payment_id,
        operatorId: instruction.operator_id,
        projectId: instruction.project_id,
      };
      const payment = paymentOfInstruction(header, instructedPayment(stored)) && stored;
      const split =
        instruction.kind === 'split_return'
          ? await findInstruction(this.pool, instruction.payload.split_instruction_id)
          : undefined;
      const plan = planInstruction(
        instruction.kind === 'split'
          ? { ...header, kind: 'split', payload: instruction.payload }
          : { ...header, kind: 'split_return', payload: instruction.payload },
        instructedPayment(payment),
        split && { kind: split.kind, paymentId: split.payment_id, status: split.status },
      );
      if (plan.kind === 'fail') {
        await this.finish(instruction, payment, { kind: 'failed', reason: plan.reason }, plan.why);
        return;
      }
      if (plan.kind === 'wait') {
        this.count(instruction, 'deferred');
        this.logger.debug({ ...log, why: plan.why }, 'instruction deferred');
        await postponeInstruction(
          this.pool,
          instruction.instruction_id,
          this.retryDelayMs(instruction),
          plan.why,
        );
        return;
      }
      if (!payment) throw new Error('planned a channel call without a payment');
      const routed = await this.router.account(this.pool, {
        projectId: payment.project_id,
        channelId: payment.channel,
      });
      if (!routed) {
        this.logger.error(
          { ...log, channel: payment.channel },
          'no account at the payment channel; instruction fails',
        );
        await this.finish(instruction, payment, {
          kind: 'failed',
          reason: InstructionFailureReasons.noChannelAccount,
        });
        return;
      }
      let outcome: ChannelOutcome;
      try {
        outcome = await this.call(routed, instruction, plan);
      } catch (err) {
        if (err instanceof ChannelRejectedError) {
          this.logger.warn({ ...log, code: err.code, err: err.message }, 'channel refused the instruction');
          await this.finish(instruction, payment, { kind: 'failed', reason: err.code });
          return;
        }
        if (err instanceof ChannelUnavailableError) {
          this.count(instruction, 'retried');
          const delayMs = this.retryDelayMs(instruction);
          this.logger.warn(
            { ...log, err: err.message, retry_in_ms: delayMs },
            'no answer from the channel; instruction retried later',
          );
          await postponeInstruction(this.pool, instruction.instruction_id, delayMs, err.message);
          return;
        }
        throw err;
      }
      if (outcome.kind === 'pending') {
        this.count(instruction, 'deferred');
        await postponeInstruction(
          this.pool,
          instruction.instruction_id,
          this.retryDelayMs(instruction),
          outcome.why,
        );
        return;
      }
      await this.finish(instruction, payment, outcome);
    } catch (err) {
      // a bug or the database: never lose the instruction, try it again later
      this.count(instruction, 'retried');
      this.logger.error({ ...log, err }, 'instruction execution failed');
      await postponeInstruction(
        this.pool,
        instruction.instruction_id,
        this.retryDelayMs(instruction),
        err instanceof Error ? err.message : String(err),
      ).catch(() => undefined);
    } finally {
      await releaseInstructionLease(this.pool, instruction.instruction_id).catch(() => undefined);
    }
  }

  /** The channel call the plan asks for; the instruction id is the channel's idempotency key. */
  private async call(
    routed: RoutedChannel,
    instruction: InstructionRow,
    plan: Exclude<InstructionPlan, { kind: 'fail' } | { kind: 'wait' }>,
  ): Promise<ChannelOutcome> {
    const { adapter, account } = routed;
    const paymentId = instruction.payment_id;
    const splitId = instruction.instruction_id;
    switch (plan.kind) {
      case 'split':
        return splitOutcome(
          await adapter.split(account, {
            paymentId,
            splitId,
            receivers: plan.receivers,
            unfreezeRest: plan.unfreezeRest,
          }),
        );
      case 'unfreeze':
        return splitOutcome(await adapter.unfreeze(account, { paymentId, splitId }));
      case 'split_return': {
        const answer = await adapter.splitReturn(account, {
          paymentId,
          splitId: plan.splitId,
          returnId: instruction.instruction_id,
          account: plan.account,
          amountMinor: plan.amountMinor,
        });
        return splitReturnOutcome(answer.status);
      }
    }
  }

  private async finish(
    instruction: InstructionRow,
    payment: InstructedPaymentRow | undefined,
    outcome: Exclude<ChannelOutcome, { kind: 'pending' }>,
    why?: string,
  ): Promise<void> {
    const channel = payment?.channel ?? '';
    const done = await this.instructions.finish(
      instruction,
      payment,
      outcome.kind === 'succeeded'
        ? { status: 'succeeded', channel, receivers: outcome.receivers }
        : { status: 'failed', channel, reason: outcome.reason, why },
    );
    if (done) this.count(instruction, outcome.kind);
  }

  /** Backs off like the channel-poll job: soon at first, then doubling up to 5 minutes. */
  private retryDelayMs(instruction: InstructionRow): number {
    return nextCheckDelayMs(
      Math.max(instruction.attempts - 1, 0),
      this.config.PAYMENT_INSTRUCTION_INTERVAL_MS,
    );
  }

  private count(instruction: InstructionRow, outcome: Attempt): void {
    this.attempts.inc({ kind: instruction.kind, outcome });
  }
}
