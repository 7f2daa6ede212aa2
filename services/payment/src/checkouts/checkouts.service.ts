import { Inject, Injectable } from '@nestjs/common';
import {
  assertTenancy,
  CitybaseClaims,
  inTenancy,
  Mutations,
  Outbox,
  OUTBOX,
  pageOf,
  PG_POOL,
  Pool,
  PoolClient,
  SERVICE_CONFIG,
  tenancyFilter,
} from '@citybase/platform';
import { randomUUID } from 'crypto';
import type { PaymentConfig } from '../config';
import { RefundsService } from '../refunds/refunds.service';
import { lockPayment } from '../refunds/refunds.store';
import {
  CancelCheckoutCommand,
  CHECKOUTS_PAGE,
  CreateCheckoutCommand,
  ListCheckoutsQuery,
  Parts,
  RefundCheckoutCommand,
  refundParts,
  refundRefusal,
  reservationTtlSeconds,
} from './checkouts.domain';
import { CheckoutsErrors } from './checkouts.errors';
import { emitCheckoutRefunded } from './checkouts.events';
import { CheckoutSaga } from './checkouts.saga';
import {
  addCommittedRefund,
  CheckoutRefundRow,
  CheckoutRow,
  expirePaymentNow,
  findCheckout,
  findCheckoutRefund,
  finishCheckoutRefund,
  insertCheckout,
  insertCheckoutRefund,
  listCheckouts,
  lockCheckout,
  patchCheckout,
  refundsOf,
} from './checkouts.store';
import { decide, firstStep, ReleaseReasons } from './checkouts.transitions';

/**
 * Use cases of checkouts. Every mutation runs through Mutations (docs/adr/0007-use-case-pipeline.md):
 * the saga row is written first under the request key (a retry replays it and drives it on), then
 * the saga (checkouts.saga.ts) runs its steps after commit. Another tenant's checkout answers
 * NOT_FOUND exactly like a missing one.
 */
@Injectable()
export class CheckoutsService {
  constructor(
    @Inject(PG_POOL) private readonly pool: Pool,
    @Inject(OUTBOX) private readonly outbox: Outbox,
    @Inject(SERVICE_CONFIG) private readonly config: PaymentConfig,
    private readonly mutations: Mutations,
    private readonly saga: CheckoutSaga,
    private readonly refunds: RefundsService,
  ) {}

  /**
   * Persists the saga, then drives it as far as it goes (coupon claimed and reserved, points
   * reserved, payment opened; or completed when nothing is left to pay). A refusal met on the way
   * (the callee's, or points worth more than what the coupon leaves) releases what was held and
   * is answered, to this request and to its retries. A callee that does not answer leaves the
   * saga where it is and the checkout is answered as it stands (PENDING, no pay_url yet): it was
   * accepted and is durable, a retry with the same request id or the checkout job drives it on, so
   * the caller polls GetCheckout (or retries) instead of seeing a failure for a written checkout.
   */
  async createCheckout(claims: CitybaseClaims, cmd: CreateCheckoutCommand): Promise<CheckoutRow> {
    assertTenancy(claims, { operatorId: cmd.operatorId, projectId: cmd.projectId });
    const created = await this.mutations.run({
      method: 'PaymentService.CreateCheckout',
      claims,
      requestId: cmd.requestId,
      command: cmd,
      execute: async ({ client, resourceId, note }) => {
        const row = await insertCheckout(
          client,
          resourceId,
          cmd,
          firstStep(cmd),
          this.config.PAYMENT_CHECKOUT_RESERVATION_TTL_SECONDS || reservationTtlSeconds(cmd.expiresInSeconds),
          this.config.PAYMENT_CHECKOUT_LEASE_MS,
        );
        note({ checkout_id: row.checkout_id, project_id: row.project_id, step: row.step });
        return row;
      },
      replay: ({ client, resourceId, note }) => {
        note({ checkout_id: resourceId });
        return this.current(client, resourceId);
      },
      done: 'checkout created',
    });
    // a callee without an answer is logged by the saga and retried by the checkout job
    const { checkout } = await this.saga.drive(created.checkout_id);
    if (checkout.status === 'RELEASED' && checkout.refusal_code !== '') {
      throw CheckoutsErrors.refused(
        checkout.refusal_kind,
        checkout.refusal_code,
        checkout.refusal_field,
        checkout.refusal_message,
      );
    }
    return checkout;
  }

  /**
   * Cancels a checkout not paid yet. Before the payment is open the saga turns to RELEASE at
   * once; while it is open the payment is closed at the channel first (the channel-poll job) and
   * the checkout is released when the payment expired; a payer who paid first wins (COMPLETED).
   */
  async cancelCheckout(claims: CitybaseClaims, cmd: CancelCheckoutCommand): Promise<CheckoutRow> {
    const row = await this.mutations.run({
      method: 'PaymentService.CancelCheckout',
      claims,
      requestId: cmd.requestId,
      command: cmd,
      resourceId: cmd.checkoutId,
      target: {
        load: (client) => lockCheckout(client, cmd.checkoutId),
        tenancy: (c) => ({ operatorId: c.operator_id, projectId: c.project_id }),
        notFound: () => CheckoutsErrors.notFound(cmd.checkoutId),
      },
      execute: async ({ client, target: c }) => {
        if (c.status === 'RELEASED' || c.step === 'RELEASE') return c;
        const d = decide(c.step, { kind: 'cancel' });
        if (d.kind === 'none') throw CheckoutsErrors.notCancellable(c.checkout_id, c.status);
        if (d.kind === 'close_payment' && c.payment_id !== null) {
          await expirePaymentNow(client, c.payment_id);
          return (
            (await patchCheckout(client, c.checkout_id, c.version, {
              release_reason: ReleaseReasons.cancelled,
            })) ?? c
          );
        }
        return (
          (await patchCheckout(client, c.checkout_id, c.version, {
            step: 'RELEASE',
            release_reason: ReleaseReasons.cancelled,
            release_from: c.step,
            dueInMs: 0,
          })) ?? c
        );
      },
      replay: ({ client }) => this.current(client, cmd.checkoutId),
      done: 'checkout cancel asked',
    });
    if (row.step !== 'RELEASE') return row;
    return (await this.saga.drive(row.checkout_id)).checkout;
  }

  /**
   * Refunds part or all of a completed checkout's full price by the refund rule
   * (checkouts.domain.ts refundParts): the money part through payments' refund path (one commit
   * with the checkout refund), CheckoutRefunded once it succeeded; without a money part at once.
   * The checkout's payment is locked before the checkout (the order a refund's outcome locks in).
   */
  async refundCheckout(
    claims: CitybaseClaims,
    cmd: RefundCheckoutCommand,
  ): Promise<{ refund: CheckoutRefundRow; checkout: CheckoutRow }> {
    const { result, replayed } = await this.mutations.runWithOutcome({
      method: 'PaymentService.RefundCheckout',
      claims,
      requestId: cmd.requestId,
      command: cmd,
      target: {
        load: async (client) => {
          const seen = await findCheckout(client, cmd.checkoutId);
          if (!seen) return undefined;
          if (seen.payment_id !== null) await lockPayment(client, seen.payment_id);
          return lockCheckout(client, cmd.checkoutId);
        },
        tenancy: (c) => ({ operatorId: c.operator_id, projectId: c.project_id }),
        notFound: () => CheckoutsErrors.notFound(cmd.checkoutId),
      },
      execute: async ({ client, target: c, resourceId, note }) => {
        switch (
          refundRefusal(
            {
              status: c.status,
              currency: c.currency,
              totalMinor: c.total_minor,
              committedRefundMinor: c.committed_refund_minor,
            },
            cmd,
          )
        ) {
          case 'CHECKOUT_NOT_COMPLETED':
            throw CheckoutsErrors.notCompleted(c.checkout_id);
          case 'CURRENCY_MISMATCH':
            throw CheckoutsErrors.currencyMismatch(c.currency);
          case 'REFUND_EXCEEDS_PRICE':
            throw CheckoutsErrors.exceedsPrice(c.total_minor - c.committed_refund_minor);
          case undefined:
            break;
        }
        const committed = sumParts(
          (await refundsOf(client, c.checkout_id)).filter((r) => r.status !== 'FAILED'),
        );
        const parts = refundParts(paidParts(c), committed, cmd.amountMinor, c.point_value_minor);
        let paymentRefundId: string | null = null;
        if (parts.moneyMinor > 0n && c.payment_id !== null) {
          paymentRefundId = randomUUID();
          await this.refunds.refundForCheckout(client, paymentRefundId, {
            requestId: resourceId,
            paymentId: c.payment_id,
            currency: c.currency,
            amountMinor: parts.moneyMinor,
            reason: cmd.reason,
          });
        }
        let refund = await insertCheckoutRefund(
          client,
          resourceId,
          c.checkout_id,
          parts,
          paymentRefundId,
          cmd.reason,
        );
        await addCommittedRefund(client, c.checkout_id, cmd.amountMinor);
        if (paymentRefundId === null) {
          const done = await finishCheckoutRefund(client, refund, true);
          if (done) {
            await emitCheckoutRefunded(this.outbox, client, done.checkout, done.refund);
            refund = done.refund;
          }
        }
        note({
          checkout_id: c.checkout_id,
          checkout_refund_id: resourceId,
          money_minor: parts.moneyMinor.toString(),
          points: parts.points.toString(),
        });
        return refund;
      },
      replay: async ({ client, resourceId }) => {
        const r = await findCheckoutRefund(client, resourceId);
        if (!r) throw new Error(`checkout refund ${resourceId} of a replayed request is missing`);
        return r;
      },
      done: 'checkout refund accepted',
    });
    if (!replayed && result.payment_refund_id !== null)
      await this.refunds.startRefund(result.payment_refund_id);
    const refund = (await findCheckoutRefund(this.pool, result.checkout_refund_id)) ?? result;
    const checkout = await findCheckout(this.pool, refund.checkout_id);
    if (!checkout) throw new Error(`checkout ${refund.checkout_id} is missing`);
    return { refund, checkout };
  }

  async getCheckout(claims: CitybaseClaims, checkoutId: string): Promise<CheckoutRow> {
    const row = await findCheckout(this.pool, checkoutId);
    if (!row || !inTenancy(claims, { operatorId: row.operator_id, projectId: row.project_id }))
      throw CheckoutsErrors.notFound(checkoutId);
    return row;
  }

  async listCheckouts(
    claims: CitybaseClaims,
    q: ListCheckoutsQuery,
  ): Promise<{ items: CheckoutRow[]; nextPageToken: string }> {
    const rows = await listCheckouts(this.pool, q, tenancyFilter(claims));
    const { rows: items, nextPageToken } = pageOf(rows, q.size, CHECKOUTS_PAGE, (r) => [
      r.cursor_at,
      r.checkout_id,
    ]);
    return { items, nextPageToken };
  }

  private async current(client: PoolClient, checkoutId: string): Promise<CheckoutRow> {
    const row = await findCheckout(client, checkoutId);
    if (!row) throw new Error(`checkout ${checkoutId} of a committed request is missing`);
    return row;
  }
}

function paidParts(c: CheckoutRow): Parts {
  return {
    totalMinor: c.total_minor,
    discountMinor: c.discount_minor,
    points: c.points,
    pointsValueMinor: c.points_value_minor,
    moneyMinor: c.money_minor,
  };
}

function sumParts(rs: CheckoutRefundRow[]): Parts {
  const sum = (f: (r: CheckoutRefundRow) => bigint) => rs.reduce((a, r) => a + f(r), 0n);
  return {
    totalMinor: sum((r) => r.total_minor),
    discountMinor: sum((r) => r.discount_minor),
    points: sum((r) => r.points),
    pointsValueMinor: sum((r) => r.points_value_minor),
    moneyMinor: sum((r) => r.money_minor),
  };
}
