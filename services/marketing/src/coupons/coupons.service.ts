import { Inject, Injectable } from '@nestjs/common';
import {
  assertTenancy,
  CitybaseClaims,
  DomainError,
  Logger,
  LOGGER,
  MutationContext,
  Mutations,
  OUTBOX,
  pageOf,
  PG_POOL,
  Pool,
  PoolClient,
  toTimestamp,
  withTransaction,
} from '@citybase/platform';
import type { Outbox } from '@citybase/platform';
import type { TierChanged } from '@citybase/contracts/citybase/points/v1/events';
import { MarketingEvents } from '@citybase/contracts/events';
import { fromTimestamp } from '@citybase/platform';
import { campaignTenancy, requestTenancy, visibleThrough } from '../campaigns/campaigns.service';
import { CampaignsErrors } from '../campaigns/campaigns.errors';
import { CampaignRow, findByGenericCode, findCampaign } from '../campaigns/campaigns.store';
import {
  assertClaimable,
  assertTierTargeted,
  cityDay,
  ClaimCouponCommand,
  couponExpiry,
  COUPONS_PAGE,
  gateStock,
  GetCouponQuery,
  HolderField,
  holderFields,
  isUniqueCode,
  ListCouponsQuery,
  tierName,
} from './coupons.domain';
import { CouponsErrors } from './coupons.errors';
import {
  activeFlashCampaigns,
  chargeCampaign,
  countClaim,
  CouponRow,
  expireDueCoupons,
  findCodeCampaign,
  findCoupon,
  holderTier,
  insertCoupon,
  listCoupons,
  releaseValue,
  upsertHolderTier,
  useCode,
} from './coupons.store';
import { FlashGate } from './flash-gate';

/** How long a flash-sale campaign row is reused for the gate's decision (PostgreSQL re-checks all). */
const GATE_CACHE_MS = 1_000;
/** Times a claim goes through the gate again after its admission's epoch was replaced. */
const GATE_ATTEMPTS = 4;

/** Thrown inside a claim's transaction: the gate epoch it was admitted at is gone (rebuilt). */
class GateEpochMoved extends Error {}

export interface ClaimResult {
  coupon: CouponRow;
  campaign: CampaignRow;
}

/**
 * Coupons (docs/marketing.md "Coupons"): ClaimCoupon within the campaign's budgets and the
 * holder's limits (rule 1: one transaction of conditional statements), the flash-sale gate in
 * front (rule 2, flash-gate.ts), GetCoupon, ListCoupons, coupon expiry, the gate reconcile, and
 * the tiers projection of points' TierChanged.
 */
@Injectable()
export class CouponsService {
  private readonly gateCampaigns = new Map<string, { row: CampaignRow; at: number }>();

  constructor(
    @Inject(PG_POOL) private readonly pool: Pool,
    @Inject(OUTBOX) private readonly outbox: Outbox,
    @Inject(LOGGER) private readonly logger: Logger,
    private readonly mutations: Mutations,
    private readonly gate: FlashGate,
  ) {}

  // ---- ClaimCoupon ----

  async claim(claims: CitybaseClaims, cmd: ClaimCouponCommand): Promise<ClaimResult> {
    assertTenancy(claims, requestTenancy(cmd));
    const campaignId = await this.resolveCampaign(cmd);
    try {
      return await this.claimOnce(claims, cmd, campaignId);
    } catch (err) {
      // a refusal of a request whose key is committed (a retry after the campaign sold out or was
      // paused) answers its coupon as it is now; checked only when refused, off the hot path
      if (
        err instanceof DomainError &&
        err.kind !== 'invalid_argument' &&
        (await this.requestKnown(claims, cmd))
      )
        return this.runClaim(claims, cmd, campaignId, null, []);
      throw err;
    }
  }

  private async claimOnce(
    claims: CitybaseClaims,
    cmd: ClaimCouponCommand,
    campaignId: string,
  ): Promise<ClaimResult> {
    const found = await this.campaignFor(campaignId, false);
    if (!found || !visibleThrough(found, cmd, claims)) throw CampaignsErrors.notFound(campaignId);
    const now = new Date();
    assertClaimable(found, now);
    const holders = holderFields(found, cmd, cityDay(now));
    if (found.target_tiers.length > 0)
      assertTierTargeted(found, await holderTier(this.pool, found.operator_id, cmd.userId));
    if (!found.flash_sale) return this.runClaim(claims, cmd, campaignId, null, holders);

    let campaign = found;
    for (let attempt = 1; ; attempt++) {
      const epoch = campaign.gate_epoch;
      const answer = await this.gate.take(campaignId, epoch, holders);
      if (!answer.ok) {
        if (answer.why === 'SOLD_OUT') throw gateRefusal(campaign);
        if (answer.why === 'LIMIT') {
          const h = holders.find((x) => x.field === answer.field)!;
          throw CouponsErrors.limitReached(h.scope, h.limit);
        }
        // MISSING: flushed, restarted, or a new epoch; rebuilt from PostgreSQL
        if (attempt >= GATE_ATTEMPTS) throw retryLater();
        campaign = await this.rebuildGate(campaignId, epoch, 'counters missing');
        continue;
      }
      try {
        const out = await this.runClaim(claims, cmd, campaignId, epoch, holders);
        if (out.replayed) await this.gate.give(campaignId, epoch, holders);
        return out;
      } catch (err) {
        await this.gate.give(campaignId, epoch, holders);
        if (err instanceof GateEpochMoved) {
          if (attempt >= GATE_ATTEMPTS) throw retryLater();
          campaign = await this.campaignFor(campaignId, true).then((c) => c ?? campaign);
          continue;
        }
        // PostgreSQL refused what the gate admitted: the gate was more generous than the truth
        // (it must never be), so its counters are rebuilt
        if (err instanceof DomainError && err.kind === 'resource_exhausted')
          await this.rebuildGate(campaignId, epoch, `postgres refused: ${err.code}`);
        throw err;
      }
    }
  }

  /**
   * The claim's transaction (rule 1): holder counters, the coupon, the code's coupon_id, then the
   * campaign's totals (the hot row, last, so its lock is held shortest), then CouponClaimed.
   */
  private async runClaim(
    claims: CitybaseClaims,
    cmd: ClaimCouponCommand,
    campaignId: string,
    gateEpoch: bigint | null,
    holders: HolderField[],
  ): Promise<ClaimResult & { replayed: boolean }> {
    const { result, replayed } = await this.mutations.runWithOutcome({
      method: 'MarketingService.ClaimCoupon',
      claims,
      requestId: cmd.requestId,
      command: cmd,
      execute: (ctx) => this.executeClaim(ctx, cmd, campaignId, gateEpoch, holders),
      replay: async ({ client, resourceId }) => {
        const coupon = (await findCoupon(client, resourceId))!;
        return { coupon, campaign: (await findCampaign(client, coupon.campaign_id))! };
      },
    });
    return { ...result, replayed };
  }

  private async executeClaim(
    ctx: MutationContext<undefined>,
    cmd: ClaimCouponCommand,
    campaignId: string,
    gateEpoch: bigint | null,
    holders: HolderField[],
  ): Promise<ClaimResult> {
    const { client, resourceId } = ctx;
    const campaign = (await findCampaign(client, campaignId))!;
    // refused early on what is committed (budgets only fill up but by expiry): a sold-out burst
    // does not queue on the campaign's row lock; admission is still only by the UPDATE below
    assertBudgetLeft(campaign);
    const now = new Date();
    await countClaim(client, campaignId, holders);
    const coupon = await insertCoupon(client, {
      coupon_id: resourceId,
      campaign_id: campaignId,
      operator_id: campaign.operator_id,
      user_id: cmd.userId,
      household_id: cmd.householdId,
      max_value: campaign.coupon_max_value,
      currency: campaign.currency,
      code: cmd.code ?? '',
      claim_day: cityDay(now),
      claimed_at: now,
      expires_at: couponExpiry(campaign, now),
    });
    if (cmd.code !== undefined && isUniqueCode(cmd.code) && campaign.generic_code !== cmd.code)
      await useCode(client, cmd.code, resourceId);
    const charged = await chargeCampaign(client, campaignId, now, gateEpoch);
    if (charged === 'NOT_CLAIMABLE') {
      const current = (await findCampaign(client, campaignId))!;
      if (gateEpoch !== null && current.gate_epoch !== gateEpoch) throw new GateEpochMoved();
      assertClaimable(current, now);
      throw new Error(`campaign ${campaignId} refused a claim without a reason`);
    }
    ctx.note({ campaign_id: campaignId, coupon_id: resourceId, flash_sale: gateEpoch !== null });
    await ctx.emit(
      MarketingEvents.CouponClaimed,
      {
        couponId: coupon.coupon_id,
        campaignId,
        tenancy: {
          operatorId: campaign.operator_id,
          projectId: campaign.project_id,
          merchantId: campaign.merchant_id,
        },
        userId: coupon.user_id,
        householdId: coupon.household_id,
        maxValue: { currency: coupon.currency, amountMinor: coupon.max_value },
        code: coupon.code,
        expiresAt: toTimestamp(coupon.expires_at),
        occurredAt: toTimestamp(coupon.claimed_at),
      },
      { key: campaignId, tenancy: campaignTenancy(campaign) },
    );
    return { coupon, campaign };
  }

  /** The campaign a claim names: its id, its generic code, or one of its unique codes (of the request's operator). */
  private async resolveCampaign(cmd: ClaimCouponCommand): Promise<string> {
    if (cmd.campaignId !== undefined) return cmd.campaignId;
    const code = cmd.code!;
    if (isUniqueCode(code)) {
      const id = await findCodeCampaign(this.pool, cmd.operatorId, code);
      if (id) return id;
    }
    const generic = await findByGenericCode(this.pool, cmd.operatorId, code);
    if (!generic) throw CouponsErrors.codeNotFound();
    return generic.campaign_id;
  }

  private async requestKnown(claims: CitybaseClaims, cmd: ClaimCouponCommand): Promise<boolean> {
    const { rowCount } = await this.pool.query(
      `SELECT 1 FROM idempotency_keys WHERE client_id = $1 AND method = 'MarketingService.ClaimCoupon' AND request_id = $2`,
      [claims.sub, cmd.requestId],
    );
    return rowCount === 1;
  }

  /** A flash sale's campaign row, reused for up to a second by the gate's decisions; others read each time. */
  private async campaignFor(campaignId: string, fresh: boolean): Promise<CampaignRow | undefined> {
    const cached = this.gateCampaigns.get(campaignId);
    if (!fresh && cached && Date.now() - cached.at < GATE_CACHE_MS) return cached.row;
    const row = await findCampaign(this.pool, campaignId);
    if (row?.flash_sale) this.gateCampaigns.set(campaignId, { row, at: Date.now() });
    return row;
  }

  /** Rebuilds of this process under way: concurrent claims that found the counters missing share one. */
  private readonly rebuilding = new Map<string, Promise<CampaignRow | undefined>>();

  private async rebuildGate(campaignId: string, seenEpoch: bigint, reason: string): Promise<CampaignRow> {
    let running = this.rebuilding.get(campaignId);
    if (!running) {
      running = this.gate
        .rebuild(campaignId, seenEpoch, reason)
        .finally(() => this.rebuilding.delete(campaignId));
      this.rebuilding.set(campaignId, running);
    }
    const row = await running;
    if (!row) throw CampaignsErrors.notFound(campaignId);
    this.gateCampaigns.set(campaignId, { row, at: Date.now() });
    return row;
  }

  /**
   * One pass of the gate reconcile (GateReconcileJob): every active flash sale whose counters are
   * missing, or whose stock differs from PostgreSQL's twice in a row at the same claimed totals (so
   * a claim between the gate and its commit is not mistaken for drift), is rebuilt.
   */
  private readonly drift = new Map<string, string>();
  async reconcileGates(limit: number): Promise<number> {
    const campaigns = await activeFlashCampaigns(this.pool, limit);
    let rebuilt = 0;
    for (const c of campaigns) {
      const stock = await this.gate.stock(c.campaign_id, c.gate_epoch);
      const truth = gateStock(c);
      const mark = `${c.gate_epoch}:${c.claimed}:${c.claimed_value}:${stock}`;
      if (stock === undefined || (stock !== truth && this.drift.get(c.campaign_id) === mark)) {
        await this.rebuildGate(
          c.campaign_id,
          c.gate_epoch,
          stock === undefined ? 'reconcile: missing' : 'reconcile: drift',
        );
        this.drift.delete(c.campaign_id);
        rebuilt++;
      } else if (stock !== truth) this.drift.set(c.campaign_id, mark);
      else this.drift.delete(c.campaign_id);
    }
    return rebuilt;
  }

  // ---- queries ----

  async getCoupon(claims: CitybaseClaims, q: GetCouponQuery): Promise<ClaimResult> {
    assertTenancy(claims, requestTenancy(q));
    const coupon = await findCoupon(this.pool, q.couponId);
    const campaign = coupon && (await findCampaign(this.pool, coupon.campaign_id));
    if (!coupon || !campaign || !visibleThrough(campaign, q, claims))
      throw CouponsErrors.notFound(q.couponId);
    return { coupon, campaign };
  }

  async listCoupons(
    claims: CitybaseClaims,
    q: ListCouponsQuery,
  ): Promise<{ items: ClaimResult[]; nextPageToken: string }> {
    assertTenancy(claims, requestTenancy(q));
    const rows = await listCoupons(this.pool, q);
    const { rows: page, nextPageToken } = pageOf(rows, q.size, COUPONS_PAGE, (r) => [
      r.rank,
      r.cursor_at,
      r.coupon_id,
    ]);
    const campaigns = new Map<string, CampaignRow | undefined>();
    const items: ClaimResult[] = [];
    for (const coupon of page) {
      if (!campaigns.has(coupon.campaign_id))
        campaigns.set(coupon.campaign_id, await findCampaign(this.pool, coupon.campaign_id));
      const campaign = campaigns.get(coupon.campaign_id)!;
      // a project-bound caller sees the coupons of its project's campaigns only
      if (visibleThrough(campaign, q, claims)) items.push({ coupon, campaign });
    }
    return { items, nextPageToken };
  }

  // ---- expiry ----

  /**
   * One batch of the coupon expiry (CouponExpiryJob): AVAILABLE coupons past expires_at become
   * EXPIRED once (UPDATE ... WHERE status = 'AVAILABLE', SKIP LOCKED), their campaigns'
   * claimed_value gives their max_value back (the count budget does not: they were given out, and
   * the holder counters keep counting them), CouponExpired each. Returns how many expired.
   */
  async expireDueCoupons(limit: number): Promise<number> {
    return withTransaction(this.pool, async (client) => {
      const expired = await expireDueCoupons(client, limit);
      const byCampaign = new Map<string, bigint>();
      for (const c of expired)
        byCampaign.set(c.campaign_id, (byCampaign.get(c.campaign_id) ?? 0n) + c.max_value);
      // campaigns in id order: two passes never lock two campaigns in opposite orders
      for (const id of [...byCampaign.keys()].sort()) {
        await releaseValue(client, id, byCampaign.get(id)!);
        const campaign = (await findCampaign(client, id))!;
        for (const c of expired.filter((x) => x.campaign_id === id))
          await this.outbox.enqueue(
            client,
            MarketingEvents.CouponExpired,
            {
              couponId: c.coupon_id,
              campaignId: id,
              userId: c.user_id,
              occurredAt: toTimestamp(c.updated_at),
            },
            { key: id, tenancy: campaignTenancy(campaign) },
          );
      }
      if (expired.length > 0) this.logger.info({ coupons: expired.length }, 'coupons expired');
      return expired.length;
    });
  }

  // ---- the tiers projection (consumer marketing.tiers) ----

  async applyTierChanged(client: PoolClient, e: TierChanged): Promise<void> {
    const operatorId = e.tenancy?.operatorId ?? '';
    if (operatorId === '' || e.holderId === '') return;
    await upsertHolderTier(client, {
      operatorId,
      holderId: e.holderId,
      tier: tierName(e.toTier),
      occurredAt: e.occurredAt ? fromTimestamp(e.occurredAt) : new Date(),
    });
  }
}

/** The gate's sold out: the money budget when it is the tighter one, else the count budget. */
function gateRefusal(c: CampaignRow): DomainError {
  const byMoney =
    c.max_spend !== null && c.coupon_max_value > 0n && c.max_spend / c.coupon_max_value < c.max_coupons;
  return byMoney ? CouponsErrors.budgetExhausted(c.campaign_id) : CouponsErrors.soldOut(c.campaign_id);
}

/** The committed totals leave room for one more coupon (else SOLD_OUT or BUDGET_EXHAUSTED). */
function assertBudgetLeft(c: CampaignRow): void {
  if (c.claimed >= c.max_coupons) throw CouponsErrors.soldOut(c.campaign_id);
  if (c.max_spend !== null && c.claimed_value + c.coupon_max_value > c.max_spend)
    throw CouponsErrors.budgetExhausted(c.campaign_id);
}

function retryLater(): DomainError {
  return new DomainError('aborted', 'GATE_BUSY', 'the flash-sale gate is being rebuilt: retry');
}
