import { randomUUID } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import {
  fromTimestamp,
  Logger,
  LOGGER,
  PG_POOL,
  Pool,
  PoolClient,
  withTransaction,
} from '@citybase/platform';
import type { Money, TenancyRef } from '@citybase/contracts/citybase/common/v1/common';
import type {
  ClearingObligationCreated,
  IssuerPoints,
  PointsEarned,
  PointsExpired,
  PointsIssued,
  PointsRedeemed,
  PointsReturned,
  PointsReversed,
} from '@citybase/contracts/citybase/points/v1/events';
import { createHash } from 'node:crypto';
import { EscrowCheckouts } from '../escrow/escrow.checkouts';
import { LedgerService } from '../ledger/ledger.service';
import {
  cyclePosting,
  Issuer,
  IssuerValue,
  issuedPosting,
  obligationPosting,
  Place,
  PlannedPosting,
  redeemedPosting,
  returnedPosting,
  returnObligations,
  takenBackPosting,
} from './points-clearing.postings';
import {
  insertObligation,
  lockOpenObligations,
  nextOpenCurrency,
  recordCycle,
} from './points-clearing.store';

const issuerOf = (t: TenancyRef | undefined): Issuer => ({
  operatorId: t?.operatorId ?? '',
  projectId: t?.projectId ?? '',
});
const placeOf = (t: TenancyRef | undefined): Place => ({ ...issuerOf(t), merchantId: t?.merchantId ?? '' });

/** An event's money value; points always sends one (docs/points.md "Liability and clearing"). */
function moneyOf(value: Money | undefined, what: string): { currency: string; amountMinor: bigint } {
  if (!value || !value.currency) throw new Error(`${what} carries no money value`);
  return { currency: value.currency, amountMinor: value.amountMinor };
}

const lotValues = (lots: readonly IssuerPoints[], what: string): IssuerValue[] =>
  lots.map((l) => ({ issuer: issuerOf(l.issuer), ...moneyOf(l.value, `${what} lot ${l.lotId}`) }));

/**
 * Points' liability and clearing in the ledger (docs/settlement-points.md): points' events posted
 * inside the inbox transaction of `settlement.points` (PointsClearingEventHandlers), and the clearing
 * cycle that settles open obligations between operators (PointsClearingCycleJob).
 */
@Injectable()
export class PointsClearingService {
  constructor(
    @Inject(PG_POOL) private readonly pool: Pool,
    @Inject(LOGGER) private readonly logger: Logger,
    private readonly ledger: LedgerService,
    private readonly checkouts: EscrowCheckouts,
  ) {}

  // ---- points' events, in the inbox transaction ----

  async issued(client: PoolClient, e: PointsIssued | PointsEarned): Promise<void> {
    const v = moneyOf(e.value, `lot ${e.lotId}`);
    await this.post(client, issuedPosting(e.lotId, { issuer: issuerOf(e.tenancy), ...v }));
  }

  async reversed(client: PoolClient, e: PointsReversed, eventId: string): Promise<void> {
    const values = lotValues(e.lots, `reversal ${eventId}`);
    await this.post(
      client,
      takenBackPosting('points_reversed', eventId, e.tenancy?.operatorId ?? '', values),
    );
  }

  async expired(client: PoolClient, e: PointsExpired, eventId: string): Promise<void> {
    const values = lotValues(e.lots, `expiry ${eventId}`);
    await this.post(client, takenBackPosting('points_expired', eventId, e.tenancy?.operatorId ?? '', values));
  }

  async redeemed(client: PoolClient, e: PointsRedeemed, eventId: string): Promise<void> {
    // events from before redeemed_at: the points were spent at the request's tenancy
    const place = placeOf(e.redeemedAt?.operatorId ? e.redeemedAt : e.tenancy);
    const values = lotValues(e.lots, `redemption ${e.reservationId}`);
    const txId = await this.post(
      client,
      redeemedPosting(e.reservationId, e.tenancy?.operatorId ?? '', place, values),
    );
    // the whole value reaches the place's payable (own lots here, the others by their obligations);
    // a checkout that names the reservation moves it into its order (docs/settlement-checkout.md)
    const value = moneyOf(e.value, `redemption ${e.reservationId}`);
    await this.checkouts.partRedeemed(client, {
      source: 'points',
      sourceId: e.reservationId,
      eventId,
      reference: e.reference,
      place,
      currency: value.currency,
      amountMinor: value.amountMinor,
      txId,
    });
  }

  /**
   * PointsReturned: a checkout refund's points back to each issuer's liability from the place they
   * had been spent at; issuers other than the place with an obligation of the place to them, settled
   * by the clearing cycle like any other (docs/settlement-checkout.md).
   */
  async returned(client: PoolClient, e: PointsReturned, eventId: string): Promise<void> {
    const place = placeOf(e.redeemedAt);
    const values = lotValues(e.lots, `return ${e.returnId}`);
    const txId = await this.post(
      client,
      returnedPosting(e.returnId, e.tenancy?.operatorId ?? '', place, values),
    );
    if (!txId) return;
    const points = new Map<string, bigint>();
    for (const l of e.lots) {
      const key = `${l.issuer?.operatorId ?? ''}\u0000${l.issuer?.projectId ?? ''}`;
      points.set(key, (points.get(key) ?? 0n) + l.points);
    }
    for (const o of returnObligations(place, values)) {
      const key = `${o.creditor.operatorId}\u0000${o.creditor.projectId}`;
      await insertObligation(client, {
        obligation_id: derivedUuid(`return:${e.returnId}:${key}`),
        event_id: eventId,
        reservation_id: e.reservationId,
        debtor_operator_id: o.debtor.operatorId,
        debtor_project_id: o.debtor.projectId,
        creditor_operator_id: o.creditor.operatorId,
        creditor_project_id: o.creditor.projectId,
        creditor_merchant_id: '',
        points: points.get(key) ?? 0n,
        currency: o.currency,
        amount_minor: o.amountMinor,
        tx_id: txId,
        occurred_at: e.occurredAt ? fromTimestamp(e.occurredAt) : new Date(),
      });
    }
  }

  async obligation(client: PoolClient, e: ClearingObligationCreated, eventId: string): Promise<void> {
    const v = moneyOf(e.value, `obligation ${e.obligationId}`);
    const debtor = issuerOf(e.debtor);
    const creditor = placeOf(e.creditor);
    const txId = await this.post(
      client,
      obligationPosting({
        obligationId: e.obligationId,
        reservationId: e.reservationId,
        debtor,
        creditor,
        ...v,
      }),
    );
    await insertObligation(client, {
      obligation_id: e.obligationId,
      event_id: eventId,
      reservation_id: e.reservationId,
      debtor_operator_id: debtor.operatorId,
      debtor_project_id: debtor.projectId,
      creditor_operator_id: creditor.operatorId,
      creditor_project_id: creditor.projectId,
      creditor_merchant_id: creditor.merchantId,
      points: e.points,
      currency: v.currency,
      amount_minor: v.amountMinor,
      tx_id: txId!,
      occurred_at: e.occurredAt ? fromTimestamp(e.occurredAt) : new Date(),
    });
  }

  // ---- the clearing cycle ----

  /**
   * One cycle: up to `limit` open obligations of one currency (oldest first; rows another cycle
   * holds are skipped), netted per clearing account and settled through the operators' bank
   * accounts in one ledger transaction, each obligation settled once. Returns how many it settled.
   */
  async settleCycle(limit: number): Promise<number> {
    const currency = await nextOpenCurrency(this.pool);
    if (!currency) return 0;
    return withTransaction(this.pool, async (client) => {
      const open = await lockOpenObligations(client, currency, limit);
      if (open.length === 0) return 0;
      const cycleId = randomUUID();
      const txId = await this.post(
        client,
        cyclePosting(
          cycleId,
          currency,
          open.map((o) => ({
            debtor: { operatorId: o.debtor_operator_id, projectId: o.debtor_project_id },
            creditor: { operatorId: o.creditor_operator_id, projectId: o.creditor_project_id },
            amountMinor: o.amount_minor,
          })),
        ),
      );
      const settled = await recordCycle(client, {
        cycleId,
        currency,
        txId,
        obligationIds: open.map((o) => o.obligation_id),
      });
      if (settled !== open.length)
        throw new Error(
          `clearing cycle ${cycleId}: ${settled} of ${open.length} locked obligations were open`,
        );
      this.logger.info(
        { cycle_id: cycleId, currency, obligations: settled, transaction_id: txId ?? null },
        'points clearing settled',
      );
      return settled;
    });
  }

  /** Turns a planned posting's account keys into ids and posts it; its transaction id (undefined: nothing to post). */
  private async post(client: PoolClient, planned: PlannedPosting | undefined): Promise<string | undefined> {
    if (!planned) return undefined;
    const lines = [];
    for (const l of planned.lines)
      lines.push({ accountId: await this.ledger.accountId(client, l.account), amountMinor: l.amountMinor });
    const tx = await this.ledger.post(client, {
      kind: planned.kind,
      idempotencyKey: planned.idempotencyKey,
      currency: planned.currency,
      operatorId: planned.operatorId,
      projectId: planned.projectId,
      reference: planned.reference,
      lines,
    });
    return tx.txId;
  }
}

/** A UUID derived from a name (one obligation per return and issuer, however often it is posted). */
function derivedUuid(name: string): string {
  const h = createHash('sha256').update(name).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-8${h.slice(17, 20)}-${h.slice(20, 32)}`;
}
