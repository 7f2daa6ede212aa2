import { Inject, Injectable } from '@nestjs/common';
import {
  assertTenancy,
  CitybaseClaims,
  Logger,
  LOGGER,
  Mutations,
  Outbox,
  OUTBOX,
  OutboundError,
  PG_POOL,
  Pool,
  PoolClient,
  SERVICE_CONFIG,
  toTimestamp,
  withTransaction,
} from '@citybase/platform';
import type {
  PaymentFailed,
  PaymentSucceeded,
  RefundSucceeded,
} from '@citybase/contracts/citybase/payment/v1/events';
import { PaymentScenario } from '@citybase/contracts/citybase/payment/v1/payment';
import { MarketingEvents } from '@citybase/contracts/events';
import type { MarketingConfig } from '../config';
import {
  callIds,
  CreateGroupDealCommand,
  deadlineOutcome,
  GetGroupDealQuery,
  holdUntil,
  joinRefusal,
  JoinGroupDealCommand,
  nextAttemptDelayMs,
  onMemberRefund,
  onPaymentSucceeded,
} from './group-deals.domain';
import { GroupDealsErrors } from './group-deals.errors';
import { DealPorts } from './group-deals.ports';
import { dealToProto, participantToProto } from './group-deals.render';
import {
  CallRow,
  callDone,
  callFailed,
  changeSeats,
  DealRow,
  endDeal,
  expiredHolds,
  findCall,
  findDeal,
  findParticipant,
  insertCall,
  insertDeal,
  insertParticipant,
  leaseDueCalls,
  lockDeal,
  lockParticipant,
  lockPaymentKey,
  moveParticipant,
  overdueDeals,
  ParticipantRow,
  participantByPayment,
  participantsOf,
  recordUnmatched,
  setPayment,
  takeUnmatched,
} from './group-deals.store';

/**
 * Payment's answers that refuse a CreatePayment for good (the seat is released). Its
 * PERMISSION_DENIED / UNAUTHENTICATED are marketing's own client misconfigured: tried again.
 */
const REFUSALS = new Set(['invalid_argument', 'failed_precondition', 'not_found', 'already_exists']);

/** A due call is leased to one job run for this long before another may take it. */
const CALL_LEASE_MS = 30_000;

/**
 * Group buying (docs/marketing.md "Group buying"): deals, joins holding a seat while the
 * participant's payment is open, payment's outcomes (consumer `marketing.group-deals`), and the
 * deals job (held seats released, deals ended at their deadline, due calls made). Every change of
 * a deal's seats happens under its row lock, in the transaction that records the calls it needs
 * (deal_calls); the calls to payment and settlement are made after the commit, outside any
 * transaction, with request ids derived from the participant, so each is made once whoever asks.
 */
@Injectable()
export class GroupDealsService {
  constructor(
    @Inject(PG_POOL) private readonly pool: Pool,
    @Inject(OUTBOX) private readonly outbox: Outbox,
    @Inject(LOGGER) private readonly logger: Logger,
    @Inject(SERVICE_CONFIG) private readonly config: MarketingConfig,
    private readonly mutations: Mutations,
    private readonly ports: DealPorts,
  ) {}

  // ---- RPCs ----

  async createGroupDeal(claims: CitybaseClaims, cmd: CreateGroupDealCommand): Promise<DealRow> {
    assertTenancy(claims, { operatorId: cmd.operatorId, projectId: cmd.projectId });
    const current = async ({ client, resourceId }: { client: PoolClient; resourceId: string }) =>
      (await findDeal(client, resourceId))!;
    return this.mutations.run({
      method: 'MarketingService.CreateGroupDeal',
      claims,
      requestId: cmd.requestId,
      command: cmd,
      execute: async (ctx) => {
        const deal = await insertDeal(ctx.client, ctx.resourceId, cmd, claims.sub);
        ctx.note({ deal_id: deal.deal_id, min: cmd.minParticipants, max: cmd.maxParticipants });
        await ctx.emit(
          MarketingEvents.GroupDealCreated,
          { deal: dealToProto(deal), occurredAt: toTimestamp(new Date()) },
          { key: deal.deal_id, subject: deal.deal_id, tenancy: tenancyOf(deal) },
        );
        return deal;
      },
      replay: current,
    });
  }

  /**
   * Holds a seat (deal row locked: OPEN, before the deadline, paid + pending < max) with its
   * CreatePayment call recorded, then makes the call after the commit (a retry of the same request
   * makes it again while it has not answered; so does the deals job).
   */
  async joinGroupDeal(
    claims: CitybaseClaims,
    cmd: JoinGroupDealCommand,
  ): Promise<{ deal: DealRow; participant: ParticipantRow }> {
    const current = async ({ client, resourceId }: { client: PoolClient; resourceId: string }) => ({
      deal: (await findDeal(client, cmd.dealId))!,
      participant: (await findParticipant(client, resourceId))!,
    });
    const joined = await this.mutations.run({
      method: 'MarketingService.JoinGroupDeal',
      claims,
      requestId: cmd.requestId,
      command: cmd,
      target: {
        load: async (client) => {
          const deal = await lockDeal(client, cmd.dealId);
          return deal?.operator_id === cmd.operatorId ? deal : undefined;
        },
        tenancy: (d) => ({ operatorId: d.operator_id, projectId: d.project_id }),
        notFound: () => GroupDealsErrors.notFound(cmd.dealId),
      },
      execute: async (ctx) => {
        const now = new Date();
        const refusal = joinRefusal(ctx.target, now);
        if (refusal === 'DEAL_ENDED') throw GroupDealsErrors.ended(cmd.dealId);
        if (refusal === 'DEAL_FULL') throw GroupDealsErrors.full(cmd.dealId);
        const participant = await insertParticipant(ctx.client, {
          participantId: ctx.resourceId,
          dealId: cmd.dealId,
          userId: cmd.userId,
          holdExpiresAt: holdUntil(now, this.config.MARKETING_GROUP_HOLD_SECONDS, ctx.target.deadline),
        });
        if (!participant) throw GroupDealsErrors.alreadyJoined(cmd.dealId);
        const deal = await changeSeats(ctx.client, cmd.dealId, { pending: 1 });
        await insertCall(
          ctx.client,
          callIds.createPayment(participant.participant_id),
          'CREATE_PAYMENT',
          participant.participant_id,
        );
        ctx.note({ deal_id: cmd.dealId, participant_id: participant.participant_id, pending: deal.pending });
        await ctx.emit(
          MarketingEvents.GroupDealJoined,
          { dealId: cmd.dealId, participant: participantToProto(participant), occurredAt: toTimestamp(now) },
          { key: cmd.dealId, subject: participant.participant_id, tenancy: tenancyOf(deal) },
        );
        return { deal, participant };
      },
      replay: current,
    });
    if (joined.participant.status !== 'PENDING' || joined.participant.payment_id !== null) return joined;
    const call = await findCall(this.pool, callIds.createPayment(joined.participant.participant_id));
    if (call?.status === 'DUE') await this.makeCall(call, { rethrow: true });
    return {
      deal: (await findDeal(this.pool, cmd.dealId))!,
      participant: (await findParticipant(this.pool, joined.participant.participant_id))!,
    };
  }

  async getGroupDeal(
    claims: CitybaseClaims,
    q: GetGroupDealQuery,
  ): Promise<{ deal: DealRow; participants: ParticipantRow[] }> {
    assertTenancy(claims, { operatorId: q.operatorId, projectId: q.projectId || undefined });
    const deal = await findDeal(this.pool, q.dealId);
    if (deal?.operator_id !== q.operatorId || (q.projectId !== '' && deal.project_id !== q.projectId))
      throw GroupDealsErrors.notFound(q.dealId);
    return { deal, participants: await participantsOf(this.pool, q.dealId) };
  }

  // ---- payment's events (in the inbox's transaction) ----

  async paymentSucceeded(client: PoolClient, e: PaymentSucceeded): Promise<void> {
    const found = await this.participantOfPayment(client, e);
    if (!found) {
      // a group-buy payment whose CreatePayment answer was lost: applied when its id is filled in
      if (e.scenario === PaymentScenario.PAYMENT_SCENARIO_GROUP_BUY)
        await recordUnmatched(client, e.paymentId, 'SUCCEEDED');
      return;
    }
    const deal = await lockDeal(client, found.deal_id);
    const participant = await lockParticipant(client, found.participant_id);
    if (deal) await this.applySucceeded(client, deal, participant);
  }

  async paymentFailed(client: PoolClient, e: Pick<PaymentFailed, 'paymentId' | 'scenario'>): Promise<void> {
    const found = await this.participantOfPayment(client, e);
    if (!found) {
      if (e.scenario === PaymentScenario.PAYMENT_SCENARIO_GROUP_BUY)
        await recordUnmatched(client, e.paymentId, 'FAILED');
      return;
    }
    await lockDeal(client, found.deal_id);
    const participant = await lockParticipant(client, found.participant_id);
    await this.applyFailed(client, participant);
  }

  /**
   * The participant a group-buy payment is for; not found yet, looked up again under the payment's
   * key lock, so a payment id being filled in meanwhile is seen (or sees the outcome recorded).
   */
  private async participantOfPayment(
    client: PoolClient,
    e: { paymentId: string; scenario: PaymentScenario },
  ): Promise<ParticipantRow | undefined> {
    const found = await participantByPayment(client, e.paymentId);
    if (found || e.scenario !== PaymentScenario.PAYMENT_SCENARIO_GROUP_BUY) return found;
    await lockPaymentKey(client, e.paymentId);
    return participantByPayment(client, e.paymentId);
  }

  /** A refund marketing did not ask for: a member of a succeeded deal withdraws (CRMEB#27). */
  async refundSucceeded(client: PoolClient, e: RefundSucceeded): Promise<void> {
    const found = await participantByPayment(client, e.paymentId);
    if (!found) return;
    const deal = await lockDeal(client, found.deal_id);
    const participant = await lockParticipant(client, found.participant_id);
    if (!deal || (e.refundedTotal?.amountMinor ?? 0n) < deal.price_minor) return; // partial: still a member
    const decided = onMemberRefund(participant.status, deal.status);
    if (decided === 'ignore') return;
    await moveParticipant(
      client,
      participant.participant_id,
      'PAID',
      decided === 'withdraw' ? 'WITHDRAWN' : 'REFUNDED',
    );
    await changeSeats(client, deal.deal_id, { paid: -1 });
    this.logger.info(
      { deal_id: deal.deal_id, participant_id: participant.participant_id, outcome: decided },
      'group deal member refunded',
    );
  }

  private async applySucceeded(
    client: PoolClient,
    deal: DealRow,
    participant: ParticipantRow,
  ): Promise<void> {
    const now = new Date();
    const decided = onPaymentSucceeded(participant.status, deal, now);
    const fields = { deal_id: deal.deal_id, participant_id: participant.participant_id, decided };
    if (decided === 'ignore') return;
    if (decided === 'refund_late') {
      // the seat was released or the deal ended: the money goes back (seckill#41)
      await moveParticipant(client, participant.participant_id, participant.status, 'REFUNDED');
      if (participant.status === 'PENDING') await changeSeats(client, deal.deal_id, { pending: -1 });
      await insertCall(
        client,
        callIds.refundLate(participant.participant_id),
        'REFUND',
        participant.participant_id,
      );
      this.logger.warn(fields, 'group deal payment came after its seat: refunded');
      return;
    }
    await moveParticipant(client, participant.participant_id, 'PENDING', 'PAID');
    const after = await changeSeats(client, deal.deal_id, { paid: 1, pending: -1 });
    this.logger.info({ ...fields, paid: after.paid }, 'group deal participant paid');
    if (after.paid >= after.max_participants) await this.end(client, after, 'SUCCEEDED', now);
  }

  private async applyFailed(client: PoolClient, participant: ParticipantRow): Promise<void> {
    if (!(await moveParticipant(client, participant.participant_id, 'PENDING', 'RELEASED'))) return;
    await changeSeats(client, participant.deal_id, { pending: -1 });
  }

  /**
   * Ends a locked OPEN deal: held seats released; SUCCEEDED: CompleteOrder per paid participant;
   * FAILED: every paid participant REFUNDED with its refund call (participant id + ":failed").
   */
  private async end(
    client: PoolClient,
    deal: DealRow,
    outcome: 'SUCCEEDED' | 'FAILED',
    now: Date,
  ): Promise<void> {
    const ended = await endDeal(client, deal.deal_id, outcome);
    if (!ended) return;
    const held = await participantsOf(client, deal.deal_id, 'PENDING');
    for (const p of held) await moveParticipant(client, p.participant_id, 'PENDING', 'RELEASED');
    const paid = await participantsOf(client, deal.deal_id, 'PAID');
    for (const p of paid) {
      if (outcome === 'SUCCEEDED')
        await insertCall(client, callIds.complete(p.participant_id), 'COMPLETE', p.participant_id);
      else {
        await moveParticipant(client, p.participant_id, 'PAID', 'REFUNDED');
        await insertCall(client, callIds.refundFailed(p.participant_id), 'REFUND', p.participant_id);
      }
    }
    const final = await changeSeats(client, deal.deal_id, {
      pending: -held.length,
      paid: outcome === 'FAILED' ? -paid.length : 0,
    });
    const participants = (await participantsOf(client, deal.deal_id)).map(participantToProto);
    const payload = { deal: dealToProto(final), participants, occurredAt: toTimestamp(now) };
    const opts = { key: deal.deal_id, subject: deal.deal_id, tenancy: tenancyOf(deal) };
    if (outcome === 'SUCCEEDED')
      await this.outbox.enqueue(client, MarketingEvents.GroupBuySucceeded, payload, opts);
    else await this.outbox.enqueue(client, MarketingEvents.GroupBuyFailed, payload, opts);
    this.logger.info(
      { deal_id: deal.deal_id, outcome, paid: paid.length, released: held.length },
      outcome === 'SUCCEEDED' ? 'group buy succeeded' : 'group buy failed',
    );
  }

  // ---- the deals job ----

  /** OPEN deals past their deadline end, each in its own transaction under its lock. */
  async endOverdueDeals(limit: number): Promise<number> {
    const now = new Date();
    const ids = await overdueDeals(this.pool, now, limit);
    for (const dealId of ids)
      await withTransaction(this.pool, async (client) => {
        const deal = await lockDeal(client, dealId);
        if (deal?.status !== 'OPEN' || deal.deadline > now) return; // another run ended it
        await this.end(client, deal, deadlineOutcome(deal), now);
      });
    return ids.length;
  }

  /** PENDING seats whose hold ran out are released. */
  async releaseExpiredHolds(limit: number): Promise<number> {
    const now = new Date();
    const due = await expiredHolds(this.pool, now, limit);
    for (const h of due)
      await withTransaction(this.pool, async (client) => {
        await lockDeal(client, h.deal_id);
        const participant = await lockParticipant(client, h.participant_id);
        if (participant.status === 'PENDING' && participant.hold_expires_at <= now)
          await this.applyFailed(client, participant);
      });
    return due.length;
  }

  /** Makes due calls (leased, so replicas do not make the same one at once). */
  async makeDueCalls(limit: number): Promise<number> {
    const calls = await leaseDueCalls(this.pool, limit, CALL_LEASE_MS);
    for (const call of calls) await this.makeCall(call, { rethrow: false });
    return calls.length;
  }

  /**
   * One call, outside any transaction. Answered: DONE (a CreatePayment's payment id filled in and
   * an outcome that came before it applied). A transient failure: tried again later. The callee
   * refusing a CreatePayment: the seat is released. A refused refund or completion is tried again
   * later (e.g. settlement has not mirrored the payment yet) and logged.
   */
  private async makeCall(call: CallRow, opts: { rethrow: boolean }): Promise<void> {
    const participant = await findParticipant(this.pool, call.participant_id);
    const deal = participant && (await findDeal(this.pool, participant.deal_id));
    if (!participant || !deal) throw new Error(`call ${call.call_id} names no participant`);
    const fields = {
      call_id: call.call_id,
      kind: call.kind,
      deal_id: deal.deal_id,
      attempts: call.attempts + 1,
    };
    try {
      switch (call.kind) {
        case 'CREATE_PAYMENT':
          await this.createPayment(call, deal, participant);
          break;
        case 'REFUND':
          await this.ports.payment.refundPayment({
            requestId: call.call_id,
            paymentId: participant.payment_id ?? '',
            amount: { currency: deal.price_currency, amountMinor: deal.price_minor },
            reason: call.call_id.endsWith(':late')
              ? 'group deal: paid after the seat was released'
              : 'group deal failed: not enough participants',
          });
          await callDone(this.pool, call.call_id);
          break;
        case 'COMPLETE':
          await this.ports.settlement.completeOrder({
            requestId: call.call_id,
            orderId: participant.payment_id ?? '',
          });
          await callDone(this.pool, call.call_id);
          break;
      }
      this.logger.info(fields, 'group deal call made');
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      if (call.kind === 'CREATE_PAYMENT' && err instanceof OutboundError && REFUSALS.has(err.kind)) {
        // payment refused the payment for good: the seat is given back
        await withTransaction(this.pool, async (client) => {
          await lockDeal(client, deal.deal_id);
          await this.applyFailed(client, await lockParticipant(client, participant.participant_id));
          await client.query(
            `UPDATE deal_calls SET status = 'DONE', done_at = clock_timestamp(), last_error = left($2, 500) WHERE call_id = $1`,
            [call.call_id, message],
          );
        });
      } else await callFailed(this.pool, call.call_id, message, nextAttemptDelayMs(call.attempts));
      this.logger.warn({ ...fields, err: message }, 'group deal call failed');
      if (opts.rethrow) throw err;
    }
  }

  private async createPayment(call: CallRow, deal: DealRow, participant: ParticipantRow): Promise<void> {
    const { payment } = await this.ports.payment.createPayment({
      requestId: call.call_id,
      tenancy: tenancyOf(deal),
      merchantId: deal.merchant_id,
      scenario: PaymentScenario.PAYMENT_SCENARIO_GROUP_BUY,
      amount: { currency: deal.price_currency, amountMinor: deal.price_minor },
      payerRef: participant.user_id,
      description: `group deal ${deal.deal_id} participant ${participant.participant_id}`.slice(0, 200),
      expiresInSeconds: Math.min(Math.max(this.config.MARKETING_GROUP_HOLD_SECONDS, 60), 86_400),
      profitSharing: false,
    });
    if (!payment) throw new Error('payment answered CreatePayment without the payment');
    await withTransaction(this.pool, async (client) => {
      await lockPaymentKey(client, payment.paymentId);
      const locked = await lockDeal(client, deal.deal_id);
      await setPayment(client, participant.participant_id, payment.paymentId, payment.payUrl);
      await callDone(client, call.call_id);
      // an outcome that arrived before its payment id was known
      const outcome = await takeUnmatched(client, payment.paymentId);
      const current = await lockParticipant(client, participant.participant_id);
      if (outcome === 'SUCCEEDED' && locked) await this.applySucceeded(client, locked, current);
      if (outcome === 'FAILED') await this.applyFailed(client, current);
    });
  }
}

const tenancyOf = (d: DealRow) => ({
  operatorId: d.operator_id,
  projectId: d.project_id,
  merchantId: d.merchant_id,
});
