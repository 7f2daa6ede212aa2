import { createPrivateKey, createPublicKey, KeyObject, randomUUID } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import {
  assertTenancy,
  CitybaseClaims,
  EnqueueOptions,
  EventType,
  generateSigningKey,
  JwksDocument,
  KeyResolver,
  Logger,
  LOGGER,
  Mutations,
  Outbox,
  OUTBOX,
  PG_POOL,
  Pool,
  PoolClient,
  SERVICE_CONFIG,
  signJwt,
  toJwks,
  toTimestamp,
  withTransaction,
} from '@citybase/platform';
import { CouponStatus, FundingSource } from '@citybase/contracts/citybase/marketing/v1/marketing';
import type {
  CheckoutRefunded,
  CheckoutReleased,
  RefundSucceeded,
} from '@citybase/contracts/citybase/payment/v1/events';
import type { PaymentScenario } from '@citybase/contracts/citybase/payment/v1/payment';
import { MarketingEvents } from '@citybase/contracts/events';
import type { MarketingConfig } from '../config';
import { DiscountRule, quote, Quote, QuoteBasket, QuoteCoupon } from './quote.domain';
import {
  decideEnd,
  EndRedemptionCommand,
  IssueTokenCommand,
  isFullRefund,
  QuoteQuery,
  RedeemTokenCommand,
  releasedCouponStatus,
  reservationExpiry,
  ReserveCouponCommand,
} from './redemptions.domain';
import { RedemptionsErrors } from './redemptions.errors';
import { redemptionProto } from './redemptions.render';
import {
  changeRedeemed,
  confirmedOnReference,
  couponTerms,
  CouponTermsRow,
  currentTokenKeys,
  dueRedemptions,
  endRedemption,
  findRedemption,
  findTokenKey,
  heldOnReference,
  insertRedemption,
  insertTokenKey,
  lockCouponForRedemption,
  lockTokenKeys,
  openRedemption,
  RedemptionRow,
  returnClaimedValue,
  setCouponStatus,
  TokenKeyRow,
} from './redemptions.store';
import { checkScanAge, tokenClaims, tokenHoldUntil, tokenTtl, verifyToken } from './token.domain';

type Emit = <E>(type: EventType<E>, payload: E, opts: EnqueueOptions) => Promise<void>;

interface Ended {
  redemption: RedemptionRow;
  expired: boolean;
}

const COUPON_STATUS: Record<CouponTermsRow['status'], CouponStatus> = {
  AVAILABLE: CouponStatus.COUPON_STATUS_AVAILABLE,
  RESERVED: CouponStatus.COUPON_STATUS_RESERVED,
  REDEEMED: CouponStatus.COUPON_STATUS_REDEEMED,
  EXPIRED: CouponStatus.COUPON_STATUS_EXPIRED,
};

const FUNDING: Record<CouponTermsRow['funding'], FundingSource> = {
  PLATFORM: FundingSource.FUNDING_SOURCE_PLATFORM,
  OPERATOR: FundingSource.FUNDING_SOURCE_OPERATOR,
  MERCHANT: FundingSource.FUNDING_SOURCE_MERCHANT,
};

/**
 * Quotes, checkout reservations, QR tokens and refund rollbacks (docs/marketing.md "Redemptions").
 * Every change of a coupon's use runs in one transaction under the coupon's row lock (rule 3):
 * RPCs through Mutations (idempotent by request key, events through ctx.emit), the hold expiry job
 * one redemption per transaction, the refund rollback inside the inbox transaction of its event.
 * Transitions are conditional updates from the expected status, so each ends exactly once.
 */
@Injectable()
export class RedemptionsService {
  private keys:
    { signing: { kid: string; privateKey: KeyObject }; byKid: Map<string, KeyObject> } | undefined;

  constructor(
    @Inject(PG_POOL) private readonly pool: Pool,
    @Inject(OUTBOX) private readonly outbox: Outbox,
    @Inject(LOGGER) private readonly logger: Logger,
    @Inject(SERVICE_CONFIG) private readonly config: MarketingConfig,
    private readonly mutations: Mutations,
  ) {}

  // ---- quote ----

  /** Dry run: writes nothing. Only the holder's own coupons of the basket's operator exist here. */
  async quoteDiscount(claims: CitybaseClaims, q: QuoteQuery): Promise<Quote> {
    assertTenancy(claims, tenancyOfBasket(q.basket));
    const rows = await couponTerms(this.pool, q.couponIds);
    const byId = new Map(rows.map((r) => [r.coupon_id, r]));
    const coupons = q.couponIds.map((id) => {
      const r = byId.get(id);
      if (!r || r.user_id !== q.userId || r.operator_id !== q.basket.operatorId)
        throw RedemptionsErrors.couponNotFound(id);
      return quoteCoupon(r);
    });
    return quote(coupons, q.basket, new Date());
  }

  // ---- checkout reservations ----

  /**
   * Holds a coupon for a checkout: under the coupon's lock, its rules re-checked by the quote
   * together with the coupons already held on the same reference (stacking), a HELD redemption,
   * the coupon RESERVED, CouponReserved. The same coupon reserved again on the same reference
   * (a retried checkout) answers the hold (or confirmation) it already has.
   */
  async reserveCoupon(claims: CitybaseClaims, cmd: ReserveCouponCommand): Promise<RedemptionRow> {
    assertTenancy(claims, tenancyOfBasket(cmd.basket));
    return this.mutations.run<ReserveCouponCommand, RedemptionRow, CouponTermsRow>({
      method: 'MarketingService.ReserveCoupon',
      claims,
      requestId: cmd.requestId,
      command: cmd,
      done: 'coupon reserved',
      target: {
        load: async (client) => {
          const c = await lockCouponForRedemption(client, cmd.couponId);
          return c && c.user_id === cmd.userId && c.operator_id === cmd.basket.operatorId ? c : undefined;
        },
        tenancy: (c) => ({ operatorId: c.operator_id }),
        notFound: () => RedemptionsErrors.couponNotFound(cmd.couponId),
      },
      execute: async ({ client, target: coupon, resourceId, emit, note }) => {
        const now = new Date();
        const open = await openRedemption(client, coupon.coupon_id);
        if (open && open.kind === 'CHECKOUT' && open.reference === cmd.reference) {
          note({ redemption_id: open.redemption_id, existing: true });
          return open;
        }
        const others = await heldOnReference(client, cmd.userId, cmd.reference, coupon.coupon_id);
        const otherTerms = others.length > 0 ? await couponTerms(client, others) : [];
        // the coupons already held for this checkout compete as if they were free (they are its own)
        const q = quote(
          [
            ...otherTerms.map((r) => ({ ...quoteCoupon(r), status: CouponStatus.COUPON_STATUS_AVAILABLE })),
            quoteCoupon(coupon),
          ],
          cmd.basket,
          now,
        );
        const mine = q.lines.find((l) => l.couponId === coupon.coupon_id);
        if (!mine || mine.discount === 0n)
          throw RedemptionsErrors.notApplicable(coupon.coupon_id, mine?.reason || 'NOT_APPLICABLE');
        const displaced = q.lines.find((l) => l.couponId !== coupon.coupon_id && l.discount === 0n);
        if (displaced) throw RedemptionsErrors.notApplicable(coupon.coupon_id, 'STACKING_EXCLUSIVE');
        // what the earlier holds took stays theirs: this one gets at most what the basket has left
        const heldBefore =
          otherTerms.length > 0 ? await this.heldDiscount(client, cmd, coupon.coupon_id) : 0n;
        const left = cmd.basket.total - heldBefore;
        const discount = mine.discount < left ? mine.discount : left > 0n ? left : 0n;
        if (discount === 0n)
          throw RedemptionsErrors.notApplicable(coupon.coupon_id, 'NOTHING_LEFT_TO_DISCOUNT');
        const r = await insertRedemption(client, {
          redemption_id: resourceId,
          coupon_id: coupon.coupon_id,
          campaign_id: coupon.campaign_id,
          user_id: coupon.user_id,
          kind: 'CHECKOUT',
          operator_id: cmd.basket.operatorId,
          project_id: cmd.basket.projectId,
          merchant_id: cmd.basket.merchantId,
          reference: cmd.reference,
          currency: cmd.basket.currency,
          basket_total: cmd.basket.total,
          discount,
          token_nonce: null,
          expires_at: reservationExpiry(now, cmd.ttlSeconds, this.config.MARKETING_RESERVATION_TTL_SECONDS),
          created_by: claims.sub,
        });
        if (!(await setCouponStatus(client, coupon.coupon_id, 'AVAILABLE', 'RESERVED')))
          throw new Error(`coupon ${coupon.coupon_id} was not available under its lock`);
        await emit(
          MarketingEvents.CouponReserved,
          {
            redemption: redemptionProto(r),
            campaignId: r.campaign_id,
            userId: r.user_id,
            occurredAt: toTimestamp(r.created_at),
          },
          { key: r.campaign_id, subject: r.redemption_id, tenancy: { operatorId: r.operator_id } },
        );
        note({ redemption_id: r.redemption_id, coupon_id: r.coupon_id, discount });
        return r;
      },
      replay: async ({ client, resourceId }) =>
        (await findRedemption(client, resourceId)) ??
        (await this.onReference(client, cmd.couponId, cmd.reference)),
    });
  }

  async confirmReservation(claims: CitybaseClaims, cmd: EndRedemptionCommand): Promise<RedemptionRow> {
    return this.endCheckout(claims, cmd, 'confirm');
  }

  async cancelReservation(claims: CitybaseClaims, cmd: EndRedemptionCommand): Promise<RedemptionRow> {
    return this.endCheckout(claims, cmd, 'cancel');
  }

  /**
   * Confirms or cancels a checkout hold (decideEnd). One past its deadline expires now, exactly
   * once, committed before the call fails REDEMPTION_EXPIRED: a retry answers the same.
   */
  private async endCheckout(
    claims: CitybaseClaims,
    cmd: EndRedemptionCommand,
    asked: 'confirm' | 'cancel',
  ): Promise<RedemptionRow> {
    const ended = await this.mutations.run<EndRedemptionCommand, Ended, RedemptionRow>({
      method:
        asked === 'confirm'
          ? 'MarketingService.ConfirmCouponReservation'
          : 'MarketingService.CancelCouponReservation',
      claims,
      requestId: cmd.requestId,
      command: cmd,
      resourceId: cmd.redemptionId,
      done: asked === 'confirm' ? 'coupon reservation confirmed' : 'coupon reservation cancelled',
      target: {
        load: async (client) => {
          const r = await this.lockRedemption(client, cmd.redemptionId);
          return r && (cmd.operatorId === '' || r.operator_id === cmd.operatorId) ? r : undefined;
        },
        tenancy: (r) => ({ operatorId: r.operator_id, projectId: r.project_id || undefined }),
        notFound: () => RedemptionsErrors.redemptionNotFound(cmd.redemptionId),
      },
      execute: async ({ client, target: r, emit, note }) => {
        if (r.kind !== 'CHECKOUT') throw RedemptionsErrors.notACheckout(r.redemption_id);
        const decision = decideEnd(
          { redemptionId: r.redemption_id, status: r.status, expiresAt: r.expires_at },
          asked,
          new Date(),
        );
        note({ redemption_id: r.redemption_id, decision });
        if (decision === 'unchanged') return { redemption: r, expired: false };
        if (decision === 'expire')
          return { redemption: await this.release(client, emit, r, 'EXPIRED', claims.sub), expired: true };
        if (asked === 'cancel')
          return { redemption: await this.release(client, emit, r, 'CANCELLED', claims.sub), expired: false };
        return { redemption: await this.confirm(client, emit, r, claims.sub, {}), expired: false };
      },
      replay: async ({ client }) => {
        const r = await findRedemption(client, cmd.redemptionId);
        if (!r) throw new Error(`redemption ${cmd.redemptionId} of a committed request is missing`);
        decideEnd(
          { redemptionId: r.redemption_id, status: r.status, expiresAt: r.expires_at },
          asked,
          new Date(),
        );
        return { redemption: r, expired: false };
      },
    });
    if (ended.expired)
      throw asked === 'confirm'
        ? RedemptionsErrors.redemptionExpired(cmd.redemptionId)
        : RedemptionsErrors.redemptionEnded(cmd.redemptionId, 'EXPIRED');
    return ended.redemption;
  }

  // ---- QR tokens ----

  /**
   * A token for the holder's coupon: the coupon's TOKEN redemption holds it until the token's
   * expiry plus the offline grace. Asked again while that hold lasts, the same redemption (the
   * token's nonce) gets a fresh token and its hold is extended: every token of a coupon redeems
   * its one redemption, once.
   */
  async issueRedemptionToken(
    claims: CitybaseClaims,
    cmd: IssueTokenCommand,
  ): Promise<{ token: string; expiresAt: Date }> {
    assertTenancy(claims, { operatorId: cmd.operatorId, projectId: cmd.projectId || undefined });
    const ttl = tokenTtl(cmd.ttlSeconds);
    const key = await this.signingKey();
    const claimsOut = await withTransaction(this.pool, async (client) => {
      const coupon = await lockCouponForRedemption(client, cmd.couponId);
      if (!coupon || coupon.user_id !== cmd.userId || coupon.operator_id !== cmd.operatorId)
        throw RedemptionsErrors.couponNotFound(cmd.couponId);
      const now = new Date();
      const open = await openRedemption(client, coupon.coupon_id);
      const heldByToken = open?.kind === 'TOKEN' && open.status === 'HELD' ? open : undefined;
      if (!heldByToken) {
        const why =
          coupon.status !== 'AVAILABLE'
            ? `COUPON_${coupon.status}`
            : coupon.expires_at.getTime() <= now.getTime()
              ? 'COUPON_EXPIRED'
              : undefined;
        if (why) throw RedemptionsErrors.notApplicable(coupon.coupon_id, why);
      }
      const nonce = heldByToken?.redemption_id ?? randomUUID();
      const t = tokenClaims(
        {
          couponId: coupon.coupon_id,
          campaignId: coupon.campaign_id,
          userId: coupon.user_id,
          merchants: coupon.campaign_merchant_id ? [coupon.campaign_merchant_id] : coupon.target_merchant_ids,
          nonce,
        },
        now,
        ttl,
      );
      const holdUntil = tokenHoldUntil(t.exp, this.config.MARKETING_OFFLINE_GRACE_SECONDS);
      if (heldByToken) {
        await client.query(
          'UPDATE redemptions SET expires_at = GREATEST(expires_at, $2) WHERE redemption_id = $1',
          [nonce, holdUntil],
        );
      } else {
        await insertRedemption(client, {
          redemption_id: nonce,
          coupon_id: coupon.coupon_id,
          campaign_id: coupon.campaign_id,
          user_id: coupon.user_id,
          kind: 'TOKEN',
          operator_id: coupon.operator_id,
          project_id: '',
          merchant_id: '',
          reference: '',
          currency: coupon.currency,
          basket_total: 0n,
          discount: 0n,
          token_nonce: nonce,
          expires_at: holdUntil,
          created_by: claims.sub,
        });
        if (!(await setCouponStatus(client, coupon.coupon_id, 'AVAILABLE', 'RESERVED')))
          throw new Error(`coupon ${coupon.coupon_id} was not available under its lock`);
      }
      return t;
    });
    const token = await signJwt({ ...claimsOut }, key);
    this.logger.info(
      { coupon_id: claimsOut.coupon, redemption_id: claimsOut.nonce, exp: claimsOut.exp, kid: key.kid },
      'redemption token issued',
    );
    return { token, expiresAt: new Date(claimsOut.exp * 1000) };
  }

  /** The current and previous public keys (a key is made on first use). */
  async tokenKeys(): Promise<JwksDocument> {
    await this.signingKey();
    const rows = await currentTokenKeys(this.pool, 2);
    return toJwks(rows.map((r) => r.public_jwk));
  }

  /**
   * Redeems a scanned token at a merchant (docs/marketing.md "Offline redemption: the conflict
   * rule"): the signature, the expiry at the scan, the merchant, the scan's age within the grace,
   * then under the coupon's lock its redemption: HELD is CONFIRMED with this basket's discount;
   * CONFIRMED already means another scan won (TOKEN_ALREADY_USED naming it). N concurrent scans of
   * one token queue on that lock: exactly one wins.
   */
  async redeemToken(claims: CitybaseClaims, cmd: RedeemTokenCommand): Promise<RedemptionRow> {
    const where = { operatorId: cmd.operatorId, projectId: cmd.projectId || undefined };
    assertTenancy(claims, where);
    const now = new Date();
    const scannedAt = new Date(cmd.scannedAtMs ?? now.getTime());
    const t = await verifyToken(cmd.token, this.resolver(), scannedAt, cmd.merchantId);
    checkScanAge(scannedAt, now, this.config.MARKETING_OFFLINE_GRACE_SECONDS);
    return this.mutations.run<RedeemTokenCommand, RedemptionRow, RedemptionRow>({
      method: 'MarketingService.RedeemToken',
      claims,
      requestId: cmd.requestId,
      command: cmd,
      resourceId: t.nonce,
      done: 'token redeemed',
      target: {
        load: async (client) => {
          const r = await this.lockRedemption(client, t.nonce);
          return r && r.kind === 'TOKEN' && r.coupon_id === t.coupon ? r : undefined;
        },
        tenancy: () => where,
        notFound: () => RedemptionsErrors.tokenForged('NONCE_UNKNOWN'),
      },
      execute: async ({ client, target: r, emit, note }) => {
        if (r.status === 'CONFIRMED' || r.status === 'ROLLED_BACK')
          throw RedemptionsErrors.tokenAlreadyUsed({
            redemptionId: r.redemption_id,
            merchantId: r.merchant_id,
            at: r.scanned_at ?? r.confirmed_at ?? undefined,
          });
        if (r.status !== 'HELD') throw RedemptionsErrors.tokenVoid(r.redemption_id, r.status.toLowerCase());
        if (r.expires_at.getTime() < now.getTime())
          throw RedemptionsErrors.tokenOfflineTooLong(this.config.MARKETING_OFFLINE_GRACE_SECONDS);
        const coupon = await lockCouponForRedemption(client, r.coupon_id);
        if (!coupon || coupon.operator_id !== cmd.operatorId)
          throw RedemptionsErrors.tokenWrongMerchant(cmd.merchantId);
        // the coupon is held by this token: the quote judges it as of the scan, as if free
        const q = quote(
          [{ ...quoteCoupon(coupon), status: CouponStatus.COUPON_STATUS_AVAILABLE }],
          cmd.basket,
          scannedAt,
        );
        const line = q.lines[0];
        if (!line || line.discount === 0n) {
          const reason = line?.reason || 'NOT_APPLICABLE';
          if (reason === 'NOT_TARGETED') throw RedemptionsErrors.tokenWrongMerchant(cmd.merchantId);
          throw RedemptionsErrors.notApplicable(coupon.coupon_id, reason);
        }
        const offline = cmd.scannedAtMs !== undefined && cmd.scannedAtMs < now.getTime();
        const confirmed = await this.confirm(client, emit, r, claims.sub, {
          merchant: { operatorId: cmd.operatorId, projectId: cmd.projectId, merchantId: cmd.merchantId },
          basketTotal: cmd.basket.total,
          discount: line.discount,
          reference: `scan:${cmd.requestId}`,
          scannedAt,
          offline,
        });
        note({
          redemption_id: r.redemption_id,
          merchant_id: cmd.merchantId,
          offline,
          discount: line.discount,
        });
        return confirmed;
      },
      replay: async ({ client }) => {
        const r = await findRedemption(client, t.nonce);
        if (!r) throw new Error(`redemption ${t.nonce} of a committed request is missing`);
        return r;
      },
    });
  }

  // ---- jobs and consumers ----

  /**
   * One batch of the hold expiry (HoldExpiryJob): HELD redemptions past their deadline expire, each
   * in its own transaction under its coupon's lock, once (only a HELD one is ended). Returns how
   * many due redemptions it looked at.
   */
  async expireDueRedemptions(limit: number): Promise<number> {
    const due = await dueRedemptions(this.pool, limit);
    for (const d of due) {
      await withTransaction(this.pool, async (client) => {
        await lockCouponForRedemption(client, d.coupon_id);
        const r = await findRedemption(client, d.redemption_id);
        if (!r || r.status !== 'HELD' || r.expires_at.getTime() > Date.now()) return;
        await this.release(client, this.jobEmit(client), r, 'EXPIRED', '');
      });
    }
    return due.length;
  }

  /**
   * Payment's RefundSucceeded, in the inbox transaction of consumer `marketing.redemptions`: when
   * the payment is now fully refunded (refunded_total reaches the basket less the confirmed
   * discounts on it), each CONFIRMED redemption referencing it is ROLLED_BACK, its coupon usable
   * again (EXPIRED past its validity) and the campaign's redeemed totals restored. A partial refund
   * keeps them: the discount was given on the whole basket.
   */
  async rollBackOnRefund(client: PoolClient, event: RefundSucceeded, eventId: string): Promise<void> {
    const confirmed = await confirmedOnReference(client, event.paymentId);
    if (confirmed.length === 0) return;
    const basket = confirmed.reduce((m, r) => (r.basket_total > m ? r.basket_total : m), 0n);
    const paid = basket - confirmed.reduce((s, r) => s + r.discount, 0n);
    const refunded = event.refundedTotal?.amountMinor ?? 0n;
    if (!isFullRefund(refunded, paid)) {
      this.logger.info(
        { payment_id: event.paymentId, refunded_total: refunded, paid, event_id: eventId },
        'partial refund: coupon redemptions kept',
      );
      return;
    }
    const emit = this.jobEmit(client);
    // every coupon locked first, in id order, before any campaign row is touched: a rollback never
    // holds a campaign's row while it waits for a coupon a confirmation holds (which then waits for
    // that campaign row)
    const ordered = [...confirmed].sort((a, b) => (a.coupon_id < b.coupon_id ? -1 : 1));
    for (const c of ordered) await lockCouponForRedemption(client, c.coupon_id);
    for (const c of ordered) {
      const r = await findRedemption(client, c.redemption_id);
      if (!r || r.status !== 'CONFIRMED') continue;
      await this.rollBack(client, emit, r, `refund:${event.refundId}`);
    }
  }

  /**
   * Payment's CheckoutRefunded, in the inbox transaction of consumer `marketing.redemptions`: the
   * refund that gives back the whole checkout (coupon_restored) rolls its CONFIRMED redemption back
   * exactly like a full refund of a payment (ROLLED_BACK, coupon usable again, campaign totals
   * restored; CouponReleased with by_checkout_refund, so settlement posts nothing more: the refund's
   * parts gave the discount back). A partial refund keeps it. Applied once: the redemption is
   * CONFIRMED only once.
   */
  async rollBackOnCheckoutRefund(
    client: PoolClient,
    event: CheckoutRefunded,
    eventId: string,
  ): Promise<void> {
    if (!event.couponRestored || !event.couponRedemptionId) {
      this.logger.debug(
        { checkout_id: event.checkoutId, refund_id: event.refundId, event_id: eventId },
        'checkout refund that does not restore a coupon: nothing to roll back',
      );
      return;
    }
    const r = await this.lockRedemption(client, event.couponRedemptionId);
    if (!r || r.status !== 'CONFIRMED') return;
    if (r.reference !== event.checkoutId)
      throw new Error(
        `CheckoutRefunded ${event.checkoutId}: redemption ${r.redemption_id} is for ${r.reference}, not this checkout`,
      );
    await this.rollBack(client, this.jobEmit(client), r, `checkout-refund:${event.refundId}`, true);
  }

  /**
   * Payment's CheckoutReleased, in the inbox transaction of consumer `marketing.redemptions`: a
   * checkout keeps all its parts or none, so a release finding the checkout's redemption CONFIRMED
   * (the coupon was confirmed, then the points refused confirmation and payment refunded the money:
   * CONFIRM_REFUSED) rolls it back like a payment's full refund (ROLLED_BACK, coupon usable again,
   * campaign totals restored; CouponReleased without by_checkout_refund, so settlement reverses the
   * discount's posting: no checkout refund gave it back). A redemption still HELD is the saga's to
   * cancel; one already ended is left as it is. Applied once: the redemption is CONFIRMED only once.
   */
  async rollBackOnCheckoutRelease(
    client: PoolClient,
    event: CheckoutReleased,
    eventId: string,
  ): Promise<void> {
    if (!event.couponRedemptionId) return;
    const r = await this.lockRedemption(client, event.couponRedemptionId);
    if (!r || r.status !== 'CONFIRMED') return;
    if (r.reference !== event.checkoutId)
      throw new Error(
        `CheckoutReleased ${event.checkoutId}: redemption ${r.redemption_id} is for ${r.reference}, not this checkout`,
      );
    this.logger.info(
      {
        checkout_id: event.checkoutId,
        redemption_id: r.redemption_id,
        reason: event.reason,
        event_id: eventId,
      },
      "a released checkout's confirmed coupon: rolled back",
    );
    await this.rollBack(client, this.jobEmit(client), r, `checkout-release:${event.checkoutId}`);
  }

  // ---- transitions (under the coupon's lock) ----

  /** HELD > CONFIRMED: coupon REDEEMED, the campaign's redeemed += 1 and += discount, CouponRedeemed. */
  private async confirm(
    client: PoolClient,
    emit: Emit,
    r: RedemptionRow,
    by: string,
    extra: Parameters<typeof endRedemption>[5],
  ): Promise<RedemptionRow> {
    const ended = await endRedemption(client, r.redemption_id, 'HELD', 'CONFIRMED', by, extra);
    if (!ended) throw new Error(`redemption ${r.redemption_id} is not held`);
    if (!(await setCouponStatus(client, r.coupon_id, 'RESERVED', 'REDEEMED')))
      throw new Error(`coupon ${r.coupon_id} of held redemption ${r.redemption_id} is not reserved`);
    await changeRedeemed(client, r.campaign_id, 1, ended.discount);
    const coupon = await lockCouponForRedemption(client, r.coupon_id);
    await emit(
      MarketingEvents.CouponRedeemed,
      {
        redemption: redemptionProto(ended),
        campaignId: ended.campaign_id,
        userId: ended.user_id,
        ...funderOf(coupon),
        offline: ended.offline,
        occurredAt: toTimestamp(ended.confirmed_at ?? new Date()),
      },
      { key: ended.campaign_id, subject: ended.redemption_id, tenancy: { operatorId: ended.operator_id } },
    );
    return ended;
  }

  /** HELD > CANCELLED | EXPIRED: the coupon AVAILABLE again (EXPIRED past its validity), CouponReleased. */
  private async release(
    client: PoolClient,
    emit: Emit,
    r: RedemptionRow,
    to: 'CANCELLED' | 'EXPIRED',
    by: string,
  ): Promise<RedemptionRow> {
    const ended = await endRedemption(client, r.redemption_id, 'HELD', to, by);
    if (!ended) throw new Error(`redemption ${r.redemption_id} is not held`);
    await this.freeCoupon(client, emit, ended, 'RESERVED');
    return ended;
  }

  /** CONFIRMED > ROLLED_BACK: the coupon AVAILABLE again, the campaign's redeemed totals restored. */
  private async rollBack(
    client: PoolClient,
    emit: Emit,
    r: RedemptionRow,
    by: string,
    byCheckoutRefund = false,
  ): Promise<void> {
    const ended = await endRedemption(client, r.redemption_id, 'CONFIRMED', 'ROLLED_BACK', by);
    if (!ended) return;
    await changeRedeemed(client, r.campaign_id, -1, r.discount);
    await this.freeCoupon(client, emit, ended, 'REDEEMED', byCheckoutRefund);
    this.logger.info(
      { redemption_id: r.redemption_id, coupon_id: r.coupon_id, by },
      'redemption rolled back',
    );
  }

  /**
   * The coupon of an ended hold or a rolled-back redemption: AVAILABLE, or EXPIRED when past its
   * validity (then its max_value goes back to the money budget, like the coupon expiry job).
   */
  private async freeCoupon(
    client: PoolClient,
    emit: Emit,
    ended: RedemptionRow,
    from: 'RESERVED' | 'REDEEMED',
    byCheckoutRefund = false,
  ): Promise<void> {
    const coupon = await lockCouponForRedemption(client, ended.coupon_id);
    if (!coupon) throw new Error(`coupon ${ended.coupon_id} is missing`);
    const at = ended.ended_at ?? new Date();
    const to = releasedCouponStatus(coupon.expires_at, at);
    if (!(await setCouponStatus(client, coupon.coupon_id, from, to)))
      throw new Error(`coupon ${coupon.coupon_id} is not ${from}`);
    const opts = {
      key: ended.campaign_id,
      subject: ended.redemption_id,
      tenancy: { operatorId: coupon.operator_id },
    };
    await emit(
      MarketingEvents.CouponReleased,
      {
        redemption: redemptionProto(ended),
        campaignId: ended.campaign_id,
        userId: ended.user_id,
        ...funderOf(coupon),
        occurredAt: toTimestamp(at),
        byCheckoutRefund,
      },
      opts,
    );
    if (to === 'EXPIRED') {
      await returnClaimedValue(client, coupon.campaign_id, coupon.max_value);
      await emit(
        MarketingEvents.CouponExpired,
        {
          couponId: coupon.coupon_id,
          campaignId: coupon.campaign_id,
          userId: coupon.user_id,
          occurredAt: toTimestamp(at),
        },
        { ...opts, subject: coupon.coupon_id },
      );
    }
  }

  // ---- helpers ----

  /** A redemption read again under its coupon's lock (every change of it happens under that lock). */
  private async lockRedemption(client: PoolClient, redemptionId: string): Promise<RedemptionRow | undefined> {
    const seen = await findRedemption(client, redemptionId);
    if (!seen) return undefined;
    await lockCouponForRedemption(client, seen.coupon_id);
    return findRedemption(client, redemptionId);
  }

  /** Σ discounts the other coupons held or confirmed on this checkout took. */
  private async heldDiscount(
    client: PoolClient,
    cmd: ReserveCouponCommand,
    couponId: string,
  ): Promise<bigint> {
    const { rows } = await client.query<{ s: bigint | null }>(
      `SELECT sum(discount)::bigint AS s FROM redemptions
        WHERE user_id = $1 AND reference = $2 AND kind = 'CHECKOUT' AND status IN ('HELD', 'CONFIRMED')
          AND coupon_id <> $3`,
      [cmd.userId, cmd.reference, couponId],
    );
    return rows[0]?.s ?? 0n;
  }

  private async onReference(client: PoolClient, couponId: string, reference: string): Promise<RedemptionRow> {
    const { rows } = await client.query<RedemptionRow>(
      `SELECT * FROM redemptions WHERE coupon_id = $1 AND reference = $2 ORDER BY created_at DESC LIMIT 1`,
      [couponId, reference],
    );
    if (!rows[0]) throw new Error(`redemption of coupon ${couponId} on ${reference} is missing`);
    return rows[0];
  }

  private jobEmit(client: PoolClient): Emit {
    return async (type, payload, opts) => {
      await this.outbox.enqueue(client, type, payload, opts);
    };
  }

  /** The signing key: the newest stored one, made (once, across processes) on first use. */
  private async signingKey(): Promise<{ kid: string; privateKey: KeyObject }> {
    if (this.keys) return this.keys.signing;
    const rows = await withTransaction(this.pool, async (client) => {
      let current = await currentTokenKeys(client, 2);
      if (current.length === 0) {
        await lockTokenKeys(client);
        current = await currentTokenKeys(client, 2);
        if (current.length === 0) {
          const k = generateSigningKey();
          await insertTokenKey(client, {
            kid: k.kid,
            publicJwk: k.publicJwk,
            privateKey: k.privateKey.export({ format: 'der', type: 'pkcs8' }),
          });
          this.logger.info({ kid: k.kid }, 'token signing key created');
          current = await currentTokenKeys(client, 2);
        }
      }
      return current;
    });
    const [newest] = rows;
    if (!newest) throw new Error('no token signing key');
    this.keys = {
      signing: { kid: newest.kid, privateKey: privateKeyOf(newest) },
      byKid: new Map(rows.map((r) => [r.kid, publicKeyOf(r)])),
    };
    return this.keys.signing;
  }

  /** Public keys by kid: the ones loaded, else looked up (another process may have rotated). */
  private resolver(): KeyResolver {
    return {
      resolve: async (kid) => {
        const known = this.keys?.byKid.get(kid);
        if (known) return known;
        const row = await findTokenKey(this.pool, kid);
        if (!row) return undefined;
        const key = publicKeyOf(row);
        this.keys?.byKid.set(kid, key);
        return key;
      },
    };
  }
}

function publicKeyOf(row: TokenKeyRow): KeyObject {
  return createPublicKey({ key: { ...row.public_jwk }, format: 'jwk' });
}

function privateKeyOf(row: TokenKeyRow): KeyObject {
  return createPrivateKey({ key: row.private_key, format: 'der', type: 'pkcs8' });
}

function tenancyOfBasket(b: QuoteBasket) {
  return { operatorId: b.operatorId, projectId: b.projectId || undefined };
}

/** The funding and funder of a coupon's campaign (CouponRedeemed, CouponReleased). */
function funderOf(c: CouponTermsRow | undefined) {
  if (!c) return { funding: FundingSource.FUNDING_SOURCE_UNSPECIFIED, funder: undefined };
  const funder =
    c.funding === 'PLATFORM'
      ? { operatorId: '', projectId: '', merchantId: '' }
      : c.funding === 'OPERATOR'
        ? { operatorId: c.operator_id, projectId: '', merchantId: '' }
        : { operatorId: c.operator_id, projectId: '', merchantId: c.campaign_merchant_id };
  return { funding: FUNDING[c.funding], funder };
}

/** The quote's view of a coupon row and its campaign. */
export function quoteCoupon(r: CouponTermsRow): QuoteCoupon {
  return {
    couponId: r.coupon_id,
    campaignId: r.campaign_id,
    status: COUPON_STATUS[r.status],
    expiresAt: r.expires_at,
    currency: r.currency,
    discount: discountRule(r),
    scope: {
      operatorId: r.operator_id,
      projectId: r.campaign_project_id,
      merchantId: r.campaign_merchant_id,
      projectIds: r.target_project_ids,
      merchantIds: r.target_merchant_ids,
      scenarios: r.target_scenarios as PaymentScenario[],
    },
    stacking: { exclusive: r.stacking_exclusive, group: r.stacking_group, priority: r.stacking_priority },
  };
}

function discountRule(r: CouponTermsRow): DiscountRule {
  switch (r.discount_kind) {
    case 'AMOUNT_OFF':
      return { kind: 'amount_off', amount: r.amount_off_minor ?? 0n };
    case 'PERCENT_OFF':
      return {
        kind: 'percent_off',
        basisPoints: r.percent_basis_points ?? 0,
        cap: r.percent_cap_minor ?? undefined,
      };
    case 'THRESHOLD':
      return { kind: 'threshold', spend: r.threshold_spend_minor ?? 0n, save: r.threshold_save_minor ?? 0n };
    case 'FREE_ITEM':
      return { kind: 'free_item', itemCode: r.free_item_code ?? '', value: r.free_item_value_minor ?? 0n };
  }
}
