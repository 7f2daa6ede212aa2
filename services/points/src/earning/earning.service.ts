import { randomUUID } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import {
  assertTenancy,
  CitybaseClaims,
  DomainError,
  fromTimestamp,
  Logger,
  LOGGER,
  Mutations,
  Outbox,
  OUTBOX,
  pageOf,
  PG_POOL,
  Pool,
  PoolClient,
  toTimestamp,
  withTransaction,
  inSavepoint,
} from '@citybase/platform';
import type { PaymentSucceeded, RefundSucceeded } from '@citybase/contracts/citybase/payment/v1/events';
import type { IssuerPoints } from '@citybase/contracts/citybase/points/v1/events';
import {
  EntryKind,
  LotSource,
  LotStatus,
  ShortfallPolicy,
} from '@citybase/contracts/citybase/points/v1/points';
import { PointsEvents } from '@citybase/contracts/events';
import { issuerPoints, valueOf } from '../accounts/accounts.service';
import {
  accountsWithPendingDue,
  changeDebt,
  changeLots,
  ensureAccount,
  findLot,
  freeLots,
  insertEntry,
  insertLot,
  lockAccount,
  LotDelta,
  LotRow,
  releaseDueLots,
} from '../accounts/accounts.store';
import { BudgetsService } from '../budgets/budgets.service';
import { householdOf } from '../households/households.store';
import type { ProgrammeTerms } from '../programmes/programmes.domain';
import { ProgrammesService } from '../programmes/programmes.service';
import { TiersService } from '../tiers/tiers.service';
import {
  cityDay,
  ListEarningRulesQuery,
  multiplierOf,
  pointsFor,
  RULES_PAGE,
  SetEarningRuleCommand,
  takeFrom,
  toTakeBack,
} from './earning.domain';
import { ALERTING, NOT_EARNED } from './earning.errors';
import {
  addReversed,
  earnedOnDay,
  EarningRow,
  EarningRuleRow,
  findEarning,
  findRuleOf,
  insertEarning,
  lapsedUnits,
  listRules,
  lockEarning,
  ruleFor,
  upsertRule,
} from './earning.store';

const HOUR_MS = 3_600_000;
const DAY_MS = 86_400_000;
/** The budget refusals an earning records as its reason instead of failing (and retrying) the event. */
const BUDGET_REFUSALS = new Set<string>([NOT_EARNED.BUDGET_NOT_SET, NOT_EARNED.BUDGET_EXCEEDED]);

/**
 * Earning (docs/points.md "Earning"): the operators' earning rules; payments earn pending points
 * (PaymentSucceeded, once per payment), pending lots become available after the refund window
 * (the release job), refunds take back what their payment earned (RefundSucceeded). Events are
 * applied in the inbox's transaction (once per event id); every change of an account happens under
 * its row lock, through the accounts room's store (lots, history entries).
 */
@Injectable()
export class EarningService {
  constructor(
    @Inject(PG_POOL) private readonly pool: Pool,
    @Inject(OUTBOX) private readonly outbox: Outbox,
    @Inject(LOGGER) private readonly logger: Logger,
    private readonly mutations: Mutations,
    private readonly budgets: BudgetsService,
    private readonly programmes: ProgrammesService,
    private readonly tiers: TiersService,
  ) {}

  // ---- rules ----

  /** Creates or changes the rule of (operator, project, scenario): the operator's clients or the city. */
  async setEarningRule(claims: CitybaseClaims, cmd: SetEarningRuleCommand): Promise<EarningRuleRow> {
    assertTenancy(claims, { operatorId: cmd.operatorId });
    const { requestId: _requestId, ...rule } = cmd;
    const current = async ({ client }: { client: PoolClient }) => {
      const row = await findRuleOf(client, rule);
      if (!row) throw new Error(`earning rule of a committed request is missing`);
      return row;
    };
    return this.mutations.run({
      method: 'PointsService.SetEarningRule',
      claims,
      requestId: cmd.requestId,
      command: cmd,
      execute: async (ctx) => {
        ctx.note({ operator_id: cmd.operatorId, project_id: cmd.projectId, scenario: cmd.scenario });
        return upsertRule(ctx.client, ctx.resourceId, rule, claims.sub);
      },
      replay: current,
    });
  }

  async listEarningRules(
    claims: CitybaseClaims,
    q: ListEarningRulesQuery,
  ): Promise<{ rules: EarningRuleRow[]; nextPageToken: string }> {
    assertTenancy(claims, { operatorId: q.operatorId });
    const rows = await listRules(this.pool, q);
    const { rows: rules, nextPageToken } = pageOf(rows, q.size, RULES_PAGE, (r) => [
      r.project_id,
      BigInt(r.scenario),
    ]);
    return { rules, nextPageToken };
  }

  // ---- earning (PaymentSucceeded, in the inbox's transaction) ----

  /**
   * A payment earns once: its rule's points (tier, daily cap) charged to the rule's budget node,
   * the account's debt paid off first, the rest a PENDING lot until the refund window has passed.
   * A payment that earns nothing gets its row with the reason (an alert where an operator has to
   * act), never a retry.
   */
  async earn(client: PoolClient, e: PaymentSucceeded, eventId: string): Promise<void> {
    if (await findEarning(client, e.paymentId)) return; // earned already (another delivery)
    const paidAt = e.occurredAt ? fromTimestamp(e.occurredAt) : new Date();
    const operatorId = e.tenancy?.operatorId ?? '';
    const base: Omit<EarningRow, 'reversed' | 'expired_absorbed' | 'created_at'> = {
      payment_id: e.paymentId,
      operator_id: operatorId,
      project_id: e.tenancy?.projectId ?? '',
      holder_id: e.payerRef,
      account_id: null,
      rule_id: null,
      scenario: e.scenario,
      paid_minor: e.amount?.amountMinor ?? 0n,
      paid_currency: e.amount?.currency ?? '',
      paid_at: paidAt,
      city_day: cityDay(paidAt),
      points: 0n,
      debt_repaid: 0n,
      lot_id: null,
      reason: '',
      event_id: eventId,
    };
    const notEarned = (reason: string, row: Partial<EarningRow> = {}) =>
      this.recordNotEarned(client, { ...base, ...row, reason });

    if (operatorId === '' || e.payerRef === '') return notEarned(NOT_EARNED.NO_HOLDER);
    const rule = await ruleFor(client, { operatorId, projectId: base.project_id, scenario: e.scenario });
    if (!rule) return notEarned(NOT_EARNED.NO_RULE);
    let terms: ProgrammeTerms;
    try {
      terms = await this.programmes.get(client, operatorId);
    } catch (err) {
      if (err instanceof DomainError && err.code === NOT_EARNED.PROGRAMME_NOT_SET)
        return notEarned(NOT_EARNED.PROGRAMME_NOT_SET, { rule_id: rule.rule_id });
      throw err;
    }
    // a household's member earns into the household's account, attributed to the member
    const household = await householdOf(client, operatorId, e.payerRef);
    const holderId = household ?? e.payerRef;
    const memberId = household ? e.payerRef : '';
    const account = await ensureAccount(client, { accountId: randomUUID(), operatorId, holderId });
    const known = { rule_id: rule.rule_id, account_id: account.account_id, holder_id: holderId };
    const earnedToday = await earnedOnDay(client, account.account_id, rule.rule_id, base.city_day);
    const points = pointsFor({
      amountMinor: base.paid_minor,
      pointsPerYuan: rule.points_per_yuan,
      multiplierPermille: multiplierOf(terms.tiers, account.tier),
      dailyCap: rule.daily_cap,
      earnedToday,
    });
    if (points === 0n) {
      const capped = rule.daily_cap > 0n && earnedToday >= rule.daily_cap;
      return notEarned(capped ? NOT_EARNED.DAILY_CAP_REACHED : NOT_EARNED.NOTHING_EARNED, known);
    }
    const repaid = account.debt < points ? account.debt : points;
    const lotPoints = points - repaid;
    // the rule's node pays: a project's rule its project, the operator's rule the operator
    const issuer = { operatorId, projectId: rule.project_id };
    let budgetId: string | undefined;
    if (lotPoints > 0n) {
      let refused = '';
      budgetId = await inSavepoint(
        client,
        'earning_charge',
        () =>
          this.budgets.charge(
            client,
            { operatorId, projectId: rule.project_id || undefined },
            paidAt,
            lotPoints,
          ),
        (err) => {
          if (!(err instanceof DomainError) || !BUDGET_REFUSALS.has(err.code)) return false;
          refused = err.code;
          return true;
        },
      );
      if (budgetId === undefined) return notEarned(refused, known);
    }

    if (repaid > 0n) {
      await changeDebt(client, account.account_id, -repaid);
      await insertEntry(client, {
        entry_id: randomUUID(),
        account_id: account.account_id,
        kind: EntryKind.ENTRY_KIND_DEBT_REPAID,
        debt_delta: -repaid,
        reference: e.paymentId,
        event_id: eventId,
        member_id: memberId,
      });
    }
    let lot: LotRow | undefined;
    if (lotPoints > 0n && budgetId !== undefined) {
      const now = new Date();
      const availableAt = new Date(paidAt.getTime() + terms.refundWindowHours * HOUR_MS);
      // the refund window may have passed already (an event applied late, or a window of 0)
      const pending = availableAt > now;
      const entryId = randomUUID();
      await insertEntry(client, {
        entry_id: entryId,
        account_id: account.account_id,
        kind: EntryKind.ENTRY_KIND_EARNED,
        pending_delta: pending ? lotPoints : 0n,
        available_delta: pending ? 0n : lotPoints,
        reference: e.paymentId,
        event_id: eventId,
        member_id: memberId,
      });
      lot = await insertLot(client, {
        lot_id: randomUUID(),
        account_id: account.account_id,
        amount: lotPoints,
        status: pending ? LotStatus.LOT_STATUS_PENDING : LotStatus.LOT_STATUS_AVAILABLE,
        source: LotSource.LOT_SOURCE_EARNED,
        source_ref: e.paymentId,
        issuer_operator_id: issuer.operatorId,
        issuer_project_id: issuer.projectId,
        budget_id: budgetId,
        member_id: memberId,
        entry_id: entryId,
        earned_at: paidAt,
        available_at: availableAt,
        expires_at: new Date(paidAt.getTime() + terms.lotLifetimeDays * DAY_MS),
      });
      await this.outbox.enqueue(
        client,
        PointsEvents.PointsEarned,
        {
          lotId: lot.lot_id,
          tenancy: { ...issuer, merchantId: '' },
          holderId,
          points: lotPoints,
          value: valueOf(terms.pointValue, lotPoints),
          paymentId: e.paymentId,
          ruleId: rule.rule_id,
          memberId,
          availableAt: toTimestamp(availableAt),
          expiresAt: toTimestamp(lot.expires_at),
          occurredAt: toTimestamp(now),
        },
        { key: holderId, subject: lot.lot_id, tenancy: issuer },
      );
    }
    if (
      !(await insertEarning(client, {
        ...base,
        ...known,
        points,
        debt_repaid: repaid,
        lot_id: lot?.lot_id ?? null,
      }))
    )
      // another delivery of the payment earned meanwhile: roll all of this back (the inbox retries
      // the event, which then finds that earning)
      throw new Error(`payment ${e.paymentId} earned concurrently by another event`);
    // up to the tier the rolling earnings now reach (never down: the tier job does that)
    await this.tiers.afterEarning(client, account, terms);
    this.logger.info(
      {
        payment_id: e.paymentId,
        account_id: account.account_id,
        member_id: memberId || undefined,
        points,
        debt_repaid: repaid,
        lot_id: lot?.lot_id,
      },
      'points earned',
    );
  }

  private async recordNotEarned(
    client: PoolClient,
    row: Omit<EarningRow, 'reversed' | 'expired_absorbed' | 'created_at'>,
  ): Promise<void> {
    if (!(await insertEarning(client, row)))
      throw new Error(`payment ${row.payment_id} earned concurrently by another event`);
    const fields = { payment_id: row.payment_id, operator_id: row.operator_id, reason: row.reason };
    if (ALERTING.has(row.reason))
      this.logger.warn(
        { ...fields, alert: `points_not_earned_${row.reason.toLowerCase()}` },
        'payment earned no points',
      );
    else this.logger.info(fields, 'payment earned no points');
  }

  // ---- release job ----

  /**
   * Pending lots whose refund window has passed become available: up to `limit` due lots' accounts,
   * each in its own transaction under its lock (the UPDATE ... WHERE status = PENDING releases a lot
   * once, also with two replicas). Returns the number of accounts looked at.
   */
  async releaseDueLots(limit: number): Promise<number> {
    const accounts = await accountsWithPendingDue(this.pool, limit);
    for (const accountId of accounts) {
      await withTransaction(this.pool, async (client) => {
        const account = await lockAccount(client, accountId);
        const lots = await releaseDueLots(client, accountId);
        const now = new Date();
        for (const lot of lots) {
          if (lot.remaining === 0n) continue; // a refund took it all back while pending
          await insertEntry(client, {
            entry_id: randomUUID(),
            account_id: accountId,
            kind: EntryKind.ENTRY_KIND_RELEASED,
            pending_delta: -lot.remaining,
            available_delta: lot.remaining,
            reference: lot.lot_id,
          });
          const tenancy = { operatorId: lot.issuer_operator_id, projectId: lot.issuer_project_id };
          await this.outbox.enqueue(
            client,
            PointsEvents.PointsReleased,
            {
              lotId: lot.lot_id,
              tenancy: { ...tenancy, merchantId: '' },
              holderId: account.holder_id,
              points: lot.remaining,
              occurredAt: toTimestamp(now),
            },
            { key: account.holder_id, subject: lot.lot_id, tenancy },
          );
        }
        if (lots.length > 0)
          this.logger.info({ account_id: accountId, lots: lots.length }, 'points released');
      });
    }
    return accounts.length;
  }

  // ---- refunds (RefundSucceeded, in the inbox's transaction) ----

  /**
   * Takes back what the refunded share of the payment earned and earlier refunds did not take:
   * the earning's lot's unheld units first (pending or available), then the account's other
   * available unheld units earliest expiry first, the rest recorded as debt (DEBT) or forgiven
   * (FORGIVE). Never more than the payment earned in total (earnings.reversed <= points).
   */
  async reverse(client: PoolClient, e: RefundSucceeded, eventId: string): Promise<void> {
    const seen = await findEarning(client, e.paymentId);
    if (!seen?.account_id || seen.points === 0n) return; // the payment earned nothing
    // the account's lock first, then the earning's: the order earning takes them in
    const account = await lockAccount(client, seen.account_id);
    const earning = await lockEarning(client, e.paymentId);
    if (!earning) throw new Error(`earning of payment ${e.paymentId} vanished`);
    const take = toTakeBack({
      earned: earning.points,
      reversed: earning.reversed,
      paid: earning.paid_minor,
      refundedTotal: e.refundedTotal?.amountMinor ?? 0n,
    });
    if (take === 0n) return;
    const terms = await this.programmes.get(client, earning.operator_id);
    const now = new Date();
    const own = earning.lot_id ? await findLot(client, earning.lot_id) : undefined;
    // what the earned lot's expiry removed is gone already: the holder never used it, so it is
    // neither taken from other lots nor recorded as debt (once per unit, over all refunds)
    const absorbed = own ? min(take, (await lapsedUnits(client, own, now)) - earning.expired_absorbed) : 0n;
    const first =
      own && own.expires_at > now && own.remaining > own.held
        ? [{ lotId: own.lot_id, free: own.remaining - own.held }]
        : [];
    const others = (await freeLots(client, account.account_id)).filter((l) => l.lotId !== earning.lot_id);
    const { taken, shortfall } = takeFrom([...first, ...others], take - absorbed);

    const deltas: LotDelta[] = taken.map((t) => ({ lotId: t.lotId, remaining: -t.units, held: 0n }));
    let pendingTaken = 0n;
    let availableTaken = 0n;
    const issuers: IssuerPoints[] = [];
    for (const t of taken) {
      const lot = t.lotId === own?.lot_id ? own : await findLot(client, t.lotId);
      if (!lot) throw new Error(`lot ${t.lotId} vanished`);
      if (lot.status === LotStatus.LOT_STATUS_PENDING) pendingTaken += t.units;
      else availableTaken += t.units;
      await this.budgets.uncharge(client, lot.budget_id, t.units);
      issuers.push(issuerPoints(terms.pointValue, lot.lot_id, lot, t.units));
    }
    if (taken.length > 0) {
      await changeLots(client, deltas);
      await insertEntry(
        client,
        {
          entry_id: randomUUID(),
          account_id: account.account_id,
          kind: EntryKind.ENTRY_KIND_REVERSED,
          pending_delta: -pendingTaken,
          available_delta: -availableTaken,
          reason: 'REFUND',
          reference: e.paymentId,
          event_id: eventId,
        },
        deltas,
      );
    }
    const debt = terms.shortfallPolicy === 'DEBT' ? shortfall : 0n;
    if (debt > 0n) {
      await changeDebt(client, account.account_id, debt);
      await insertEntry(client, {
        entry_id: randomUUID(),
        account_id: account.account_id,
        kind: EntryKind.ENTRY_KIND_DEBT_RECORDED,
        debt_delta: debt,
        reason: 'REFUND',
        reference: e.paymentId,
        event_id: eventId,
      });
    }
    await addReversed(client, e.paymentId, take, absorbed);
    const tenancy = { operatorId: earning.operator_id, projectId: earning.project_id };
    await this.outbox.enqueue(
      client,
      PointsEvents.PointsReversed,
      {
        tenancy: { ...tenancy, merchantId: '' },
        holderId: earning.holder_id,
        paymentId: e.paymentId,
        refundId: e.refundId,
        lots: issuers,
        shortfall,
        shortfallPolicy:
          terms.shortfallPolicy === 'DEBT'
            ? ShortfallPolicy.SHORTFALL_POLICY_DEBT
            : ShortfallPolicy.SHORTFALL_POLICY_FORGIVE,
        occurredAt: toTimestamp(now),
      },
      { key: earning.holder_id, subject: e.paymentId, tenancy },
    );
    this.logger.info(
      {
        payment_id: e.paymentId,
        refund_id: e.refundId,
        taken: take - absorbed - shortfall,
        absorbed,
        shortfall,
        debt,
      },
      'points reversed',
    );
  }
}

const min = (a: bigint, b: bigint): bigint => (a < b ? a : b);
