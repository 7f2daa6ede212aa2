import { randomUUID } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import {
  assertTenancy,
  CitybaseClaims,
  EnqueueOptions,
  EventType,
  inTenancy,
  Logger,
  LOGGER,
  Mutations,
  Outbox,
  OUTBOX,
  pageOf,
  PG_POOL,
  Pool,
  PoolClient,
  SERVICE_CONFIG,
  toTimestamp,
  withTransaction,
} from '@citybase/platform';
import {
  EntryKind,
  LotSource,
  LotStatus,
  ReservationStatus,
} from '@citybase/contracts/citybase/points/v1/points';
import type { IssuerPoints } from '@citybase/contracts/citybase/points/v1/events';
import type { CheckoutRefunded } from '@citybase/contracts/citybase/payment/v1/events';
import { PointsEvents } from '@citybase/contracts/events';
import type { PointsConfig } from '../config';
import { BudgetsService } from '../budgets/budgets.service';
import { ProgrammesService } from '../programmes/programmes.service';
import { effectiveTier } from '../tiers/tiers.domain';
import {
  allocate,
  allocateReturn,
  decideEnd,
  EndReservationCommand,
  HISTORY_PAGE,
  HolderRef,
  IssuePointsCommand,
  ListHistoryQuery,
  ListLotsQuery,
  LOTS_PAGE,
  lotExpiry,
  obligationsOf,
  reservationExpiry,
  ReservePointsCommand,
  TransferPointsCommand,
} from './accounts.domain';
import { AccountsErrors } from './accounts.errors';
import {
  AccountRow,
  accountsWithDueLots,
  Balance,
  balanceOf,
  changeLots,
  createAccount,
  dueReservations,
  endReservation,
  ensureAccount,
  EntryRow,
  expiringWithin,
  expireLapsedLots,
  findAccount,
  findReservation,
  freeLots,
  heldUnits,
  insertClearingObligation,
  insertEntry,
  insertLot,
  insertReservation,
  listEntries,
  listLots,
  lockAccount,
  lotsByIds,
  LotDelta,
  LotRow,
  noticeDueLots,
  ReservationRow,
  returnedBy,
  spentLots,
} from './accounts.store';

type Emit = <E>(type: EventType<E>, payload: E, opts: EnqueueOptions) => Promise<void>;

/** How a confirmation or cancellation ended: `expired` when the reservation was past its deadline. */
interface Ended {
  reservation: ReservationRow;
  expired: boolean;
}

const EMPTY_BALANCE: Balance = { available: 0n, reserved: 0n, pending: 0n };

/**
 * Accounts, lots and reservations (docs/points.md). Every change of an account runs in one
 * transaction under the account's row lock: RPCs through Mutations (idempotent by request key,
 * events through ctx.emit), the expiry jobs one account per transaction. The balance is never
 * stored: it is derived from the lots, whose CHECK keeps 0 <= held <= remaining <= amount.
 */
@Injectable()
export class AccountsService {
  constructor(
    @Inject(PG_POOL) private readonly pool: Pool,
    @Inject(OUTBOX) private readonly outbox: Outbox,
    @Inject(LOGGER) private readonly logger: Logger,
    @Inject(SERVICE_CONFIG) private readonly config: PointsConfig,
    private readonly mutations: Mutations,
    private readonly budgets: BudgetsService,
    private readonly programmes: ProgrammesService,
  ) {}

  // ---- reads ----

  /**
   * The balance, with the tier as answered (an account's '' is the programme's first tier) and the
   * available points expiring within the programme's notice days.
   */
  async getBalance(
    claims: CitybaseClaims,
    q: HolderRef,
  ): Promise<{ account?: AccountRow; balance: Balance; tier: string; expiringSoon: bigint }> {
    this.assertHolderTenancy(claims, q);
    const account = await findAccount(this.pool, q.operatorId, q.holderId);
    const terms = await this.programmes.find(this.pool, q.operatorId);
    const tier = effectiveTier(terms?.tiers ?? [], account?.tier ?? '');
    if (!account) return { account, balance: EMPTY_BALANCE, tier, expiringSoon: 0n };
    return {
      account,
      balance: await balanceOf(this.pool, account.account_id),
      tier,
      expiringSoon: await expiringWithin(this.pool, account.account_id, terms?.expiryNoticeDays ?? 0),
    };
  }

  async listLots(
    claims: CitybaseClaims,
    q: ListLotsQuery,
  ): Promise<{ lots: LotRow[]; nextPageToken: string }> {
    this.assertHolderTenancy(claims, q);
    const account = await findAccount(this.pool, q.operatorId, q.holderId);
    if (!account) return { lots: [], nextPageToken: '' };
    const rows = await listLots(this.pool, account.account_id, q);
    const { rows: lots, nextPageToken } = pageOf(rows, q.size, LOTS_PAGE, (r) => [r.cursor_at, r.lot_id]);
    return { lots, nextPageToken };
  }

  async listHistory(
    claims: CitybaseClaims,
    q: ListHistoryQuery,
  ): Promise<{ entries: EntryRow[]; nextPageToken: string }> {
    this.assertHolderTenancy(claims, q);
    const account = await findAccount(this.pool, q.operatorId, q.holderId);
    if (!account) return { entries: [], nextPageToken: '' };
    const rows = await listEntries(this.pool, account.account_id, q);
    const { rows: entries, nextPageToken } = pageOf(rows, q.size, HISTORY_PAGE, (r) => [
      r.cursor_at,
      r.entry_id,
    ]);
    return { entries, nextPageToken };
  }

  async getReservation(
    claims: CitybaseClaims,
    q: { operatorId: string; reservationId: string },
  ): Promise<ReservationRow> {
    const r = await findReservation(this.pool, q.reservationId);
    if (!r || !this.reservationVisible(claims, r, q.operatorId))
      throw AccountsErrors.reservationNotFound(q.reservationId);
    return r;
  }

  // ---- issuance ----

  async issuePoints(
    claims: CitybaseClaims,
    cmd: IssuePointsCommand,
  ): Promise<{ lotId: string; available: bigint }> {
    this.assertHolderTenancy(claims, cmd);
    return this.mutations.run({
      method: 'PointsService.IssuePoints',
      claims,
      requestId: cmd.requestId,
      command: cmd,
      done: 'points issued',
      execute: async ({ client, resourceId: lotId, emit, note }) => {
        const now = new Date();
        const terms = await this.programmes.get(client, cmd.operatorId);
        const account = await ensureAccount(client, { accountId: randomUUID(), ...cmd });
        const issuer = { operatorId: cmd.operatorId, projectId: cmd.projectId };
        // the budget row is shared by every issuance of the node: charged last (below)
        const { budgetId, apply: chargeBudget } = await this.budgets.chargeLast(
          client,
          { operatorId: cmd.operatorId, projectId: cmd.projectId || undefined },
          now,
          cmd.points,
        );
        const entryId = randomUUID();
        await insertEntry(client, {
          entry_id: entryId,
          account_id: account.account_id,
          kind: EntryKind.ENTRY_KIND_ISSUED,
          available_delta: cmd.points,
          reason: cmd.reason,
          reference: lotId,
          client_id: claims.sub,
        });
        const lot = await insertLot(client, {
          lot_id: lotId,
          account_id: account.account_id,
          amount: cmd.points,
          status: LotStatus.LOT_STATUS_AVAILABLE,
          source: LotSource.LOT_SOURCE_ISSUED,
          source_ref: cmd.requestId,
          issuer_operator_id: issuer.operatorId,
          issuer_project_id: issuer.projectId,
          budget_id: budgetId,
          member_id: '',
          entry_id: entryId,
          earned_at: now,
          available_at: now,
          expires_at: lotExpiry(now, cmd.expiresAtMs, terms.lotLifetimeDays),
        });
        await emit(
          PointsEvents.PointsIssued,
          {
            lotId,
            tenancy: { ...issuer, merchantId: '' },
            holderId: cmd.holderId,
            points: cmd.points,
            reason: cmd.reason,
            expiresAt: toTimestamp(lot.expires_at),
            occurredAt: toTimestamp(now),
            value: valueOf(terms.pointValue, cmd.points),
          },
          { key: cmd.holderId, subject: lotId, tenancy: issuer },
        );
        note({ lot_id: lotId, points: cmd.points, budget_id: budgetId });
        const { available } = await balanceOf(client, account.account_id);
        await chargeBudget();
        return { lotId, available };
      },
      replay: async ({ client, resourceId: lotId }) => {
        const account = await findAccount(client, cmd.operatorId, cmd.holderId);
        return { lotId, available: account ? (await balanceOf(client, account.account_id)).available : 0n };
      },
    });
  }

  // ---- transfers ----

  /**
   * Moves available points between two holders of one programme: both accounts locked in id order
   * (two opposite transfers cannot deadlock), the sender's free units taken earliest expiry first,
   * one TRANSFER_IN lot per source lot at the receiver keeping its issuer, budget and expiry (the
   * liability stays with the issuer; no budget changes). Not covered: POINTS_INSUFFICIENT, nothing
   * written.
   */
  async transferPoints(
    claims: CitybaseClaims,
    cmd: TransferPointsCommand,
  ): Promise<{ transferId: string; fromAvailable: bigint }> {
    this.assertHolderTenancy(claims, { ...cmd, holderId: cmd.fromHolderId });
    return this.mutations.run({
      method: 'PointsService.TransferPoints',
      claims,
      requestId: cmd.requestId,
      command: cmd,
      done: 'points transferred',
      execute: async ({ client, resourceId: transferId, emit, note }) => {
        const now = new Date();
        const terms = await this.programmes.get(client, cmd.operatorId);
        const sender = await findAccount(client, cmd.operatorId, cmd.fromHolderId);
        if (!sender) throw AccountsErrors.insufficient(0n, cmd.points);
        // the receiver exists before any lock is taken, then both are locked in id order
        const receiverId = await createAccount(client, {
          accountId: randomUUID(),
          operatorId: cmd.operatorId,
          holderId: cmd.toHolderId,
        });
        for (const id of [sender.account_id, receiverId].sort()) await lockAccount(client, id);
        const free = await freeLots(client, sender.account_id);
        const allocation = allocate(free, cmd.points);
        if (!allocation)
          throw AccountsErrors.insufficient(
            free.reduce((sum, l) => sum + l.free, 0n),
            cmd.points,
          );
        const units = new Map(allocation.map((a) => [a.lotId, a.units]));
        const sources = await lotsByIds(
          client,
          allocation.map((a) => a.lotId),
        );
        const taken: LotDelta[] = sources.map((l) => ({
          lotId: l.lot_id,
          remaining: -(units.get(l.lot_id) ?? 0n),
          held: 0n,
        }));
        await changeLots(client, taken);
        await insertEntry(
          client,
          {
            entry_id: randomUUID(),
            account_id: sender.account_id,
            kind: EntryKind.ENTRY_KIND_TRANSFER_OUT,
            available_delta: -cmd.points,
            reason: cmd.reason,
            reference: transferId,
            client_id: claims.sub,
          },
          taken,
        );
        const entryId = randomUUID();
        await insertEntry(client, {
          entry_id: entryId,
          account_id: receiverId,
          kind: EntryKind.ENTRY_KIND_TRANSFER_IN,
          available_delta: cmd.points,
          reason: cmd.reason,
          reference: transferId,
          client_id: claims.sub,
        });
        for (const l of sources)
          await insertLot(client, {
            lot_id: randomUUID(),
            account_id: receiverId,
            amount: units.get(l.lot_id) ?? 0n,
            status: LotStatus.LOT_STATUS_AVAILABLE,
            source: LotSource.LOT_SOURCE_TRANSFER,
            source_ref: transferId,
            issuer_operator_id: l.issuer_operator_id,
            issuer_project_id: l.issuer_project_id,
            budget_id: l.budget_id,
            member_id: '',
            entry_id: entryId,
            earned_at: now,
            available_at: now,
            expires_at: l.expires_at,
            from_lot_id: l.lot_id,
          });
        const tenancy = { operatorId: cmd.operatorId, projectId: cmd.projectId, merchantId: '' };
        await emit(
          PointsEvents.PointsTransferred,
          {
            transferId,
            tenancy,
            fromHolderId: cmd.fromHolderId,
            toHolderId: cmd.toHolderId,
            points: cmd.points,
            reason: cmd.reason,
            lots: sources.map((l) => issuerPoints(terms.pointValue, l.lot_id, l, units.get(l.lot_id) ?? 0n)),
            occurredAt: toTimestamp(now),
          },
          { key: cmd.fromHolderId, subject: transferId, tenancy: { operatorId: cmd.operatorId } },
        );
        note({ transfer_id: transferId, points: cmd.points, lots: sources.length });
        return { transferId, fromAvailable: (await balanceOf(client, sender.account_id)).available };
      },
      replay: async ({ client, resourceId: transferId }) => {
        const sender = await findAccount(client, cmd.operatorId, cmd.fromHolderId);
        return {
          transferId,
          fromAvailable: sender ? (await balanceOf(client, sender.account_id)).available : 0n,
        };
      },
    });
  }

  // ---- reservations ----

  async reservePoints(claims: CitybaseClaims, cmd: ReservePointsCommand): Promise<ReservationRow> {
    this.assertHolderTenancy(claims, cmd);
    // a client of the whole programme (its operator, or the city) may spend its points anywhere; a
    // client limited to projects only where it may act itself
    if (!inTenancy(claims, { operatorId: cmd.operatorId })) assertTenancy(claims, cmd.redeemedAt);
    return this.mutations.run({
      method: 'PointsService.ReservePoints',
      claims,
      requestId: cmd.requestId,
      command: cmd,
      done: 'points reserved',
      execute: async ({ client, resourceId: reservationId, emit, note }) => {
        const now = new Date();
        const account = await ensureAccount(client, { accountId: randomUUID(), ...cmd });
        const lots = await freeLots(client, account.account_id);
        const allocation = allocate(lots, cmd.points);
        if (!allocation)
          throw AccountsErrors.insufficient(
            lots.reduce((s, l) => s + l.free, 0n),
            cmd.points,
          );
        await changeLots(
          client,
          allocation.map((a) => ({ lotId: a.lotId, remaining: 0n, held: a.units })),
        );
        const reservation = await insertReservation(
          client,
          {
            reservation_id: reservationId,
            account_id: account.account_id,
            operator_id: cmd.operatorId,
            project_id: cmd.projectId,
            merchant_id: cmd.merchantId,
            redeemed_operator_id: cmd.redeemedAt.operatorId,
            redeemed_project_id: cmd.redeemedAt.projectId,
            redeemed_merchant_id: cmd.redeemedAt.merchantId,
            holder_id: cmd.holderId,
            points: cmd.points,
            reference: cmd.reference,
            expires_at: reservationExpiry(now, cmd.ttlSeconds, this.config.POINTS_RESERVATION_TTL_SECONDS),
          },
          allocation,
        );
        await insertEntry(
          client,
          {
            entry_id: randomUUID(),
            account_id: account.account_id,
            kind: EntryKind.ENTRY_KIND_RESERVED,
            available_delta: -cmd.points,
            reserved_delta: cmd.points,
            reference: reservationId,
            reservation_id: reservationId,
            client_id: claims.sub,
          },
          allocation.map((a) => ({ lotId: a.lotId, remaining: 0n, held: a.units })),
        );
        await emit(
          PointsEvents.PointsReserved,
          {
            reservationId,
            tenancy: tenancyOf(reservation),
            holderId: cmd.holderId,
            points: cmd.points,
            reference: cmd.reference,
            expiresAt: toTimestamp(reservation.expires_at),
            occurredAt: toTimestamp(reservation.created_at),
          },
          { key: cmd.holderId, subject: reservationId, tenancy: tenancyOf(reservation) },
        );
        note({ reservation_id: reservationId, points: cmd.points, lots: allocation.length });
        return reservation;
      },
      replay: ({ client, resourceId }) => this.current(client, resourceId),
    });
  }

  async confirmReservation(claims: CitybaseClaims, cmd: EndReservationCommand): Promise<ReservationRow> {
    return this.endReservation(claims, cmd, 'confirm');
  }

  async cancelReservation(claims: CitybaseClaims, cmd: EndReservationCommand): Promise<ReservationRow> {
    return this.endReservation(claims, cmd, 'cancel');
  }

  /**
   * Confirms or cancels a reservation (decideEnd). One past its deadline expires now, exactly once,
   * and that is committed before the call fails RESERVATION_EXPIRED: a retry then answers the same.
   */
  private async endReservation(
    claims: CitybaseClaims,
    cmd: EndReservationCommand,
    asked: 'confirm' | 'cancel',
  ): Promise<ReservationRow> {
    const settle = (r: ReservationRow): Ended => {
      decideEnd(
        { reservationId: r.reservation_id, status: r.status, expiresAt: r.expires_at },
        asked,
        new Date(),
      );
      return { reservation: r, expired: false };
    };
    const ended = await this.mutations.run<EndReservationCommand, Ended, ReservationRow>({
      method: asked === 'confirm' ? 'PointsService.ConfirmReservation' : 'PointsService.CancelReservation',
      claims,
      requestId: cmd.requestId,
      command: cmd,
      resourceId: cmd.reservationId,
      done: asked === 'confirm' ? 'reservation confirmation applied' : 'reservation cancellation applied',
      // another operator's reservation answers exactly like a missing one
      target: {
        load: async (client) => {
          const r = await this.lockReservation(client, cmd.reservationId);
          return r && (cmd.operatorId === '' || r.operator_id === cmd.operatorId) ? r : undefined;
        },
        tenancy: (r) => ({ operatorId: r.operator_id, projectId: r.project_id || undefined }),
        notFound: () => AccountsErrors.reservationNotFound(cmd.reservationId),
      },
      execute: async ({ client, target: r, emit, note }) => {
        const decision = decideEnd(
          { reservationId: r.reservation_id, status: r.status, expiresAt: r.expires_at },
          asked,
          new Date(),
        );
        note({ reservation_id: r.reservation_id, decision });
        if (decision === 'unchanged') return { reservation: r, expired: false };
        if (decision === 'expire') {
          const reservation = await this.release(
            client,
            emit,
            r,
            ReservationStatus.RESERVATION_STATUS_EXPIRED,
            claims.sub,
          );
          return { reservation, expired: true };
        }
        if (asked === 'cancel') {
          const reservation = await this.release(
            client,
            emit,
            r,
            ReservationStatus.RESERVATION_STATUS_CANCELLED,
            claims.sub,
          );
          return { reservation, expired: false };
        }
        return { reservation: await this.confirm(client, emit, r, claims.sub), expired: false };
      },
      replay: async ({ client }) => settle(await this.current(client, cmd.reservationId)),
    });
    if (ended.expired)
      throw asked === 'confirm'
        ? AccountsErrors.reservationExpired(cmd.reservationId)
        : AccountsErrors.reservationEnded(cmd.reservationId, 'expired');
    return ended.reservation;
  }

  /**
   * A reservation, read again under its account's lock (every change of a reservation happens
   * under it), so the account is always locked before the reservation is looked at: RPCs and jobs
   * take the locks in one order.
   */
  private async lockReservation(
    client: PoolClient,
    reservationId: string,
  ): Promise<ReservationRow | undefined> {
    const seen = await findReservation(client, reservationId);
    if (!seen) return undefined;
    await lockAccount(client, seen.account_id);
    return findReservation(client, reservationId);
  }

  /**
   * Spends the held units: remaining -= x, held -= x per lot; the budgets' redeemed +=; PointsRedeemed;
   * a clearing obligation and ClearingObligationCreated per issuer that is not where the points are
   * spent (docs/points.md "Liability and clearing").
   */
  private async confirm(
    client: PoolClient,
    emit: Emit,
    r: ReservationRow,
    clientId: string,
  ): Promise<ReservationRow> {
    const units = await heldUnits(client, r.reservation_id);
    const ended = await endReservation(
      client,
      r.reservation_id,
      ReservationStatus.RESERVATION_STATUS_CONFIRMED,
    );
    if (!ended) throw new Error(`reservation ${r.reservation_id} is not held`);
    const deltas: LotDelta[] = units.map((u) => ({ lotId: u.lot_id, remaining: -u.units, held: -u.units }));
    await changeLots(client, deltas);
    await insertEntry(
      client,
      {
        entry_id: randomUUID(),
        account_id: r.account_id,
        kind: EntryKind.ENTRY_KIND_CONFIRMED,
        reserved_delta: -r.points,
        reference: r.reference || r.reservation_id,
        reservation_id: r.reservation_id,
        client_id: clientId,
      },
      deltas,
    );
    const terms = await this.programmes.get(client, r.operator_id);
    await emit(
      PointsEvents.PointsRedeemed,
      {
        reservationId: r.reservation_id,
        tenancy: tenancyOf(r),
        holderId: r.holder_id,
        points: r.points,
        reference: r.reference,
        occurredAt: toTimestamp(ended.ended_at ?? new Date()),
        value: valueOf(terms.pointValue, r.points),
        lots: units.map((u) => issuerPoints(terms.pointValue, u.lot_id, u, u.units)),
        redeemedAt: redeemedAtOf(r),
      },
      { key: r.holder_id, subject: r.reservation_id, tenancy: tenancyOf(r) },
    );
    const at = ended.ended_at ?? new Date();
    const place = { operatorId: r.redeemed_operator_id, projectId: r.redeemed_project_id };
    for (const debt of obligationsOf(units, place)) {
      const value = valueOf(terms.pointValue, debt.points);
      const o = await insertClearingObligation(client, {
        obligation_id: randomUUID(),
        reservation_id: r.reservation_id,
        debtor_operator_id: debt.operatorId,
        debtor_project_id: debt.projectId,
        creditor_operator_id: r.redeemed_operator_id,
        creditor_project_id: r.redeemed_project_id,
        creditor_merchant_id: r.redeemed_merchant_id,
        points: debt.points,
        currency: value.currency,
        amount_minor: value.amountMinor,
      });
      await emit(
        PointsEvents.ClearingObligationCreated,
        {
          obligationId: o.obligation_id,
          reservationId: r.reservation_id,
          debtor: { operatorId: debt.operatorId, projectId: debt.projectId, merchantId: '' },
          creditor: redeemedAtOf(r),
          points: debt.points,
          value,
          occurredAt: toTimestamp(at),
        },
        { key: r.holder_id, subject: o.obligation_id, tenancy: tenancyOf(r) },
      );
    }
    // last: a budget row is shared by every issuance and spend of its node, and stays locked
    // until the commit
    for (const u of units) await this.budgets.redeemed(client, u.budget_id, u.units);
    return ended;
  }

  /**
   * Ends a held reservation unconfirmed (cancelled or expired): held -= x per lot; units of lots
   * past their expiry expire now (remaining -= x, the budgets' expired +=, PointsExpired).
   */
  private async release(
    client: PoolClient,
    emit: Emit,
    r: ReservationRow,
    status: ReservationStatus.RESERVATION_STATUS_CANCELLED | ReservationStatus.RESERVATION_STATUS_EXPIRED,
    clientId: string,
  ): Promise<ReservationRow> {
    const units = await heldUnits(client, r.reservation_id);
    const ended = await endReservation(client, r.reservation_id, status);
    if (!ended) throw new Error(`reservation ${r.reservation_id} is not held`);
    const at = ended.ended_at ?? new Date();
    const lapsed = units.filter((u) => u.expires_at.getTime() <= at.getTime());
    const released: LotDelta[] = units.map((u) => ({ lotId: u.lot_id, remaining: 0n, held: -u.units }));
    // one update of the lots: the held units are released, and those of lapsed lots expire with it
    await changeLots(
      client,
      units.map((u) => ({ lotId: u.lot_id, remaining: lapsed.includes(u) ? -u.units : 0n, held: -u.units })),
    );
    await insertEntry(
      client,
      {
        entry_id: randomUUID(),
        account_id: r.account_id,
        kind:
          status === ReservationStatus.RESERVATION_STATUS_CANCELLED
            ? EntryKind.ENTRY_KIND_CANCELLED
            : EntryKind.ENTRY_KIND_RESERVATION_EXPIRED,
        available_delta: r.points,
        reserved_delta: -r.points,
        reference: r.reservation_id,
        reservation_id: r.reservation_id,
        client_id: clientId,
      },
      released,
    );
    await emit(
      PointsEvents.PointsReservationReleased,
      {
        reservationId: r.reservation_id,
        tenancy: tenancyOf(r),
        holderId: r.holder_id,
        points: r.points,
        reference: r.reference,
        status,
        occurredAt: toTimestamp(at),
      },
      { key: r.holder_id, subject: r.reservation_id, tenancy: tenancyOf(r) },
    );
    if (lapsed.length > 0) {
      await this.recordExpiry(
        client,
        emit,
        { account_id: r.account_id, operator_id: r.operator_id, holder_id: r.holder_id },
        lapsed,
        at,
        r.reservation_id,
      );
    }
    return ended;
  }

  /** The EXPIRED entry, the budgets' expired totals and PointsExpired for units that just expired. */
  private async recordExpiry(
    client: PoolClient,
    emit: Emit,
    account: Pick<AccountRow, 'account_id' | 'operator_id' | 'holder_id'>,
    lots: readonly {
      lot_id: string;
      units: bigint;
      budget_id: string;
      issuer_operator_id: string;
      issuer_project_id: string;
      /** A pending lot (an earning whose refund window outlasted its lifetime) expires from pending. */
      status?: LotStatus;
    }[],
    at: Date,
    reservationId: string | null,
  ): Promise<void> {
    const sum = (pending: boolean) =>
      lots
        .filter((l) => (l.status === LotStatus.LOT_STATUS_PENDING) === pending)
        .reduce((s, l) => s + l.units, 0n);
    await insertEntry(
      client,
      {
        entry_id: randomUUID(),
        account_id: account.account_id,
        kind: EntryKind.ENTRY_KIND_EXPIRED,
        available_delta: -sum(false),
        pending_delta: -sum(true),
        reference: reservationId ?? '',
        reservation_id: reservationId,
      },
      lots.map((l) => ({ lotId: l.lot_id, remaining: -l.units, held: 0n })),
    );
    for (const l of lots) await this.budgets.expired(client, l.budget_id, l.units);
    const terms = await this.programmes.get(client, account.operator_id);
    const tenancy = { operatorId: account.operator_id, projectId: '', merchantId: '' };
    await emit(
      PointsEvents.PointsExpired,
      {
        tenancy,
        holderId: account.holder_id,
        lots: lots.map((l) => issuerPoints(terms.pointValue, l.lot_id, l, l.units)),
        occurredAt: toTimestamp(at),
      },
      { key: account.holder_id, subject: account.account_id, tenancy: { operatorId: account.operator_id } },
    );
  }

  // ---- jobs ----

  /**
   * One batch of the hold expiry (HoldExpiryJob): held reservations past their deadline expire, each
   * in its own transaction under its account's lock, once (only a HELD one is ended). Returns how
   * many due reservations it looked at.
   */
  async expireDueReservations(limit: number): Promise<number> {
    const due = await dueReservations(this.pool, limit);
    for (const d of due) {
      await withTransaction(this.pool, async (client) => {
        await lockAccount(client, d.account_id);
        const r = await findReservation(client, d.reservation_id);
        if (
          !r ||
          r.status !== ReservationStatus.RESERVATION_STATUS_HELD ||
          r.expires_at.getTime() > Date.now()
        )
          return;
        await this.release(client, this.jobEmit(client), r, ReservationStatus.RESERVATION_STATUS_EXPIRED, '');
      });
    }
    return due.length;
  }

  /**
   * One batch of the lot expiry (LotExpiryJob): what is left of lots past their expiry (remaining -
   * held) expires, one account per transaction under its lock. A lot expires once: the update only
   * takes lots with remaining > held and leaves remaining = held. Returns how many accounts it
   * looked at.
   */
  async expireDueLots(limit: number): Promise<number> {
    const accounts = await accountsWithDueLots(this.pool, limit);
    for (const accountId of accounts) {
      await withTransaction(this.pool, async (client) => {
        const account = await lockAccount(client, accountId);
        const lots = await expireLapsedLots(client, accountId);
        if (lots.length === 0) return;
        await this.recordExpiry(client, this.jobEmit(client), account, lots, new Date(), null);
        this.logger.info(
          { account_id: accountId, lots: lots.length, points: lots.reduce((s, l) => s + l.units, 0n) },
          'points expired',
        );
      });
    }
    return accounts.length;
  }

  /**
   * One batch of the expiry notices (ExpiryNoticeJob): PointsExpiring once per lot whose expiry
   * falls within its programme's notice days, marked in the statement that picks it (noticeDueLots)
   * and told in the same transaction. Returns how many lots it noticed.
   */
  async noticeExpiringLots(limit: number): Promise<number> {
    return withTransaction(this.pool, async (client) => {
      const lots = await noticeDueLots(client, limit);
      const now = new Date();
      for (const l of lots) {
        const tenancy = { operatorId: l.operator_id, projectId: '', merchantId: '' };
        await this.outbox.enqueue(
          client,
          PointsEvents.PointsExpiring,
          {
            tenancy,
            holderId: l.holder_id,
            lotId: l.lot_id,
            points: l.points,
            expiresAt: toTimestamp(l.expires_at),
            occurredAt: toTimestamp(now),
          },
          { key: l.holder_id, subject: l.lot_id, tenancy: { operatorId: l.operator_id } },
        );
      }
      if (lots.length > 0) this.logger.info({ lots: lots.length }, 'points expiry notices');
      return lots.length;
    });
  }

  // ---- returns on checkout refunds ----

  /**
   * Payment's CheckoutRefunded, in the inbox transaction of consumer `points.checkouts`: the
   * refund's points go back to the holder as AVAILABLE lots (docs/points.md "Returns on checkout
   * refunds"), one RETURNED lot per lot the confirmation spent (latest expiry first, each up to what
   * it gave and earlier returns did not give back), with that lot's issuer, budget and member, and
   * its expiry (a fresh lifetime when it has passed); the budgets' redeemed -= what comes back; one
   * RETURNED entry; PointsReturned (settlement takes the value back into each issuer's liability).
   * Once per checkout refund (the entry's unique (reservation, refund id)).
   */
  async returnOnCheckoutRefund(client: PoolClient, e: CheckoutRefunded, eventId: string): Promise<void> {
    const points = e.parts?.points ?? 0n;
    if (points <= 0n || !e.pointsReservationId) return;
    const r = await this.lockReservation(client, e.pointsReservationId);
    if (!r || r.status !== ReservationStatus.RESERVATION_STATUS_CONFIRMED || r.reference !== e.checkoutId)
      throw new Error(
        `CheckoutRefunded ${e.checkoutId}/${e.refundId}: reservation ${e.pointsReservationId} is not a confirmed reservation of this checkout`,
      );
    if (await returnedBy(client, r.reservation_id, e.refundId)) return;
    const spent = await spentLots(client, r.reservation_id);
    const back = allocateReturn(points, spent);
    const now = new Date();
    const terms = await this.programmes.get(client, r.operator_id);
    const entryId = randomUUID();
    await insertEntry(client, {
      entry_id: entryId,
      account_id: r.account_id,
      kind: EntryKind.ENTRY_KIND_RETURNED,
      available_delta: points,
      reason: 'CHECKOUT_REFUND',
      reference: e.refundId,
      reservation_id: r.reservation_id,
      event_id: eventId,
    });
    const lots: IssuerPoints[] = [];
    for (const b of back) {
      const from = spent.find((l) => l.lot_id === b.lotId);
      if (!from) throw new Error(`lot ${b.lotId} is not one reservation ${r.reservation_id} spent`);
      const lot = await insertLot(client, {
        lot_id: randomUUID(),
        account_id: r.account_id,
        amount: b.units,
        status: LotStatus.LOT_STATUS_AVAILABLE,
        source: LotSource.LOT_SOURCE_RETURNED,
        source_ref: e.refundId,
        issuer_operator_id: from.issuer_operator_id,
        issuer_project_id: from.issuer_project_id,
        budget_id: from.budget_id,
        member_id: from.member_id,
        entry_id: entryId,
        earned_at: now,
        available_at: now,
        expires_at:
          from.expires_at.getTime() > now.getTime()
            ? from.expires_at
            : lotExpiry(now, undefined, terms.lotLifetimeDays),
        from_lot_id: from.lot_id,
      });
      await this.budgets.returned(client, from.budget_id, b.units);
      lots.push(issuerPoints(terms.pointValue, lot.lot_id, lot, b.units));
    }
    await this.jobEmit(client)(
      PointsEvents.PointsReturned,
      {
        returnId: e.refundId,
        reservationId: r.reservation_id,
        tenancy: { operatorId: r.operator_id, projectId: '', merchantId: '' },
        holderId: r.holder_id,
        points,
        reference: r.reference,
        redeemedAt: redeemedAtOf(r),
        lots,
        value: valueOf(terms.pointValue, points),
        occurredAt: toTimestamp(now),
      },
      { key: r.holder_id, subject: r.reservation_id, tenancy: { operatorId: r.operator_id } },
    );
    this.logger.info(
      {
        reservation_id: r.reservation_id,
        refund_id: e.refundId,
        points: points.toString(),
        lots: lots.length,
      },
      'points returned on a checkout refund',
    );
  }

  // ---- helpers ----

  /** The reservation a replay answers (reservations are never deleted). */
  private async current(client: PoolClient, reservationId: string): Promise<ReservationRow> {
    const r = await findReservation(client, reservationId);
    if (!r) throw new Error(`reservation ${reservationId} of a committed request is missing`);
    return r;
  }

  private jobEmit(client: PoolClient): Emit {
    return async (type, payload, opts) => {
      await this.outbox.enqueue(client, type, payload, opts);
    };
  }

  /** The programme the request names must lie in the caller's tenancy (PERMISSION_DENIED otherwise). */
  private assertHolderTenancy(claims: CitybaseClaims, ref: HolderRef): void {
    assertTenancy(claims, { operatorId: ref.operatorId, projectId: ref.projectId || undefined });
  }

  private reservationVisible(claims: CitybaseClaims, r: ReservationRow, operatorId: string): boolean {
    if (operatorId !== '' && r.operator_id !== operatorId) return false;
    return inTenancy(claims, { operatorId: r.operator_id, projectId: r.project_id || undefined });
  }
}

function tenancyOf(r: Pick<ReservationRow, 'operator_id' | 'project_id' | 'merchant_id'>) {
  return { operatorId: r.operator_id, projectId: r.project_id, merchantId: r.merchant_id };
}

function redeemedAtOf(
  r: Pick<ReservationRow, 'redeemed_operator_id' | 'redeemed_project_id' | 'redeemed_merchant_id'>,
) {
  return {
    operatorId: r.redeemed_operator_id,
    projectId: r.redeemed_project_id,
    merchantId: r.redeemed_merchant_id,
  };
}

/** The money value of points at the programme's point value (events' `value`). */
export function valueOf(pointValue: { currency: string; amountMinor: bigint }, points: bigint) {
  return { currency: pointValue.currency, amountMinor: pointValue.amountMinor * points };
}

/** One lot's part of an event that moves points of several issuers. */
export function issuerPoints(
  pointValue: { currency: string; amountMinor: bigint },
  lotId: string,
  lot: { issuer_operator_id: string; issuer_project_id: string },
  points: bigint,
): IssuerPoints {
  return {
    lotId,
    issuer: { operatorId: lot.issuer_operator_id, projectId: lot.issuer_project_id, merchantId: '' },
    points,
    value: valueOf(pointValue, points),
  };
}
