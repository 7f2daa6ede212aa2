import type { Pool, PoolClient } from '@citybase/platform';
import {
  CampaignSpec,
  CampaignStatus,
  couponMaxValue,
  DiscountSpec,
  Funding,
  ListCampaignsQuery,
} from './campaigns.domain';
import { CampaignsErrors } from './campaigns.errors';

/**
 * All SQL of campaigns; mutations run in the caller's transaction. Table campaigns:
 * migrations/0001_campaigns.sql (CHECKs campaigns_within_count_budget, campaigns_within_money_budget).
 */

export interface CampaignRow {
  campaign_id: string;
  operator_id: string;
  project_id: string;
  merchant_id: string;
  name: string;
  status: CampaignStatus;
  currency: string;
  discount_kind: DiscountSpec['kind'];
  amount_off_minor: bigint | null;
  percent_basis_points: number | null;
  percent_cap_minor: bigint | null;
  threshold_spend_minor: bigint | null;
  threshold_save_minor: bigint | null;
  free_item_code: string | null;
  free_item_value_minor: bigint | null;
  coupon_max_value: bigint;
  funding: Funding;
  target_project_ids: string[];
  target_merchant_ids: string[];
  target_scenarios: number[];
  target_tiers: string[];
  stacking_exclusive: boolean;
  stacking_group: string;
  stacking_priority: number;
  claim_from: Date;
  claim_until: Date;
  coupon_valid_days: number;
  use_until: Date | null;
  max_coupons: bigint;
  max_spend: bigint | null;
  per_user_limit: number;
  per_household_limit: number;
  per_user_daily_limit: number;
  flash_sale: boolean;
  generic_code: string | null;
  gate_epoch: bigint;
  claimed: bigint;
  claimed_value: bigint;
  redeemed: bigint;
  redeemed_discount: bigint;
  created_by: string;
  updated_by: string;
  created_at: Date;
  updated_at: Date;
}

/** A list row and its page-token key: created_at as UTC text with microseconds. */
export type CampaignListRow = CampaignRow & { cursor_at: string };

type Db = Pool | PoolClient;

/** The discount of a row. */
export function discountOf(r: CampaignRow): DiscountSpec {
  switch (r.discount_kind) {
    case 'AMOUNT_OFF':
      return { kind: 'AMOUNT_OFF', amountMinor: r.amount_off_minor! };
    case 'PERCENT_OFF':
      return { kind: 'PERCENT_OFF', basisPoints: r.percent_basis_points!, capMinor: r.percent_cap_minor };
    case 'THRESHOLD':
      return { kind: 'THRESHOLD', spendMinor: r.threshold_spend_minor!, saveMinor: r.threshold_save_minor! };
    case 'FREE_ITEM':
      return { kind: 'FREE_ITEM', itemCode: r.free_item_code!, valueMinor: r.free_item_value_minor! };
  }
}

export async function findCampaign(db: Db, campaignId: string): Promise<CampaignRow | undefined> {
  const { rows } = await db.query<CampaignRow>('SELECT * FROM campaigns WHERE campaign_id = $1', [
    campaignId,
  ]);
  return rows[0];
}

/** The row lock every change of a campaign's configuration happens under. */
export async function lockCampaign(client: PoolClient, campaignId: string): Promise<CampaignRow | undefined> {
  const { rows } = await client.query<CampaignRow>(
    'SELECT * FROM campaigns WHERE campaign_id = $1 FOR UPDATE',
    [campaignId],
  );
  return rows[0];
}

/** The operator's campaign with this generic code. */
export async function findByGenericCode(
  db: Db,
  operatorId: string,
  code: string,
): Promise<CampaignRow | undefined> {
  const { rows } = await db.query<CampaignRow>(
    'SELECT * FROM campaigns WHERE operator_id = $1 AND generic_code = $2',
    [operatorId, code],
  );
  return rows[0];
}

export async function insertCampaign(
  client: PoolClient,
  campaignId: string,
  s: CampaignSpec,
  createdBy: string,
): Promise<CampaignRow> {
  const d = s.discount;
  try {
    const { rows } = await client.query<CampaignRow>(
      `INSERT INTO campaigns (
         campaign_id, operator_id, project_id, merchant_id, name, status, currency, discount_kind,
         amount_off_minor, percent_basis_points, percent_cap_minor, threshold_spend_minor,
         threshold_save_minor, free_item_code, free_item_value_minor, coupon_max_value, funding,
         target_project_ids, target_merchant_ids, target_scenarios, target_tiers, stacking_exclusive,
         stacking_group, stacking_priority, claim_from, claim_until, coupon_valid_days, use_until,
         max_coupons, max_spend, per_user_limit, per_household_limit, per_user_daily_limit,
         flash_sale, generic_code, created_by, updated_by)
       VALUES ($1, $2, $3, $4, $5, 'DRAFT', $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16,
               $17, $18, $19, $20, $21, $22, $23, $24, $25, $26, $27, $28, $29, $30, $31, $32, $33,
               $34, $35, $35)
       RETURNING *`,
      [
        campaignId,
        s.operatorId,
        s.projectId,
        s.merchantId,
        s.name,
        s.currency,
        d.kind,
        d.kind === 'AMOUNT_OFF' ? d.amountMinor.toString() : null,
        d.kind === 'PERCENT_OFF' ? d.basisPoints : null,
        d.kind === 'PERCENT_OFF' ? (d.capMinor?.toString() ?? null) : null,
        d.kind === 'THRESHOLD' ? d.spendMinor.toString() : null,
        d.kind === 'THRESHOLD' ? d.saveMinor.toString() : null,
        d.kind === 'FREE_ITEM' ? d.itemCode : null,
        d.kind === 'FREE_ITEM' ? d.valueMinor.toString() : null,
        couponMaxValue(d).toString(),
        s.funding,
        s.targeting.projectIds,
        s.targeting.merchantIds,
        s.targeting.scenarios,
        s.targeting.tiers,
        s.stacking.exclusive,
        s.stacking.group,
        s.stacking.priority,
        s.claimFrom,
        s.claimUntil,
        s.couponValidDays,
        s.useUntil,
        s.maxCoupons.toString(),
        s.maxSpend?.toString() ?? null,
        s.perUserLimit,
        s.perHouseholdLimit,
        s.perUserDailyLimit,
        s.flashSale,
        s.genericCode,
        createdBy,
      ],
    );
    return rows[0]!;
  } catch (err) {
    const e = err as { code?: string; constraint?: string };
    if (e.code === '23505' && e.constraint === 'campaigns_generic_code')
      throw CampaignsErrors.genericCodeTaken(s.genericCode ?? '');
    throw err;
  }
}

/**
 * Status, budgets and window of a (locked) campaign. The budget CHECKs still refuse a budget below
 * what a concurrent claim took meanwhile (the caller holds the row lock, so none can).
 */
export async function updateCampaign(
  client: PoolClient,
  campaignId: string,
  next: { status: CampaignStatus; maxCoupons: bigint; maxSpend: bigint | null; claimUntil: Date },
  updatedBy: string,
): Promise<CampaignRow> {
  const { rows } = await client.query<CampaignRow>(
    `UPDATE campaigns SET status = $2, max_coupons = $3, max_spend = $4, claim_until = $5,
            updated_by = $6, updated_at = clock_timestamp(),
            -- a budget changed: the flash-sale gate's counters are rebuilt (rule 2)
            gate_epoch = gate_epoch + CASE WHEN max_coupons <> $3 OR max_spend IS DISTINCT FROM $4 THEN 1 ELSE 0 END
      WHERE campaign_id = $1 RETURNING *`,
    [
      campaignId,
      next.status,
      next.maxCoupons.toString(),
      next.maxSpend?.toString() ?? null,
      next.claimUntil,
      updatedBy,
    ],
  );
  return rows[0]!;
}

/** The rows a caller may see (tenancyFilter of its claims). */
export type TenancyScope = { all: true } | { all: false; operatorIds: string[]; projectIds: string[] };

/** One page (size + 1 rows, for pageOf) of the operator's campaigns the caller may see, newest first. */
export async function listCampaigns(
  db: Db,
  q: ListCampaignsQuery,
  scope: TenancyScope,
): Promise<CampaignListRow[]> {
  const { rows } = await db.query<CampaignListRow>(
    `SELECT *, to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS cursor_at
       FROM campaigns
      WHERE operator_id = $4
        AND ($1::boolean OR operator_id = ANY($2::text[]) OR project_id = ANY($3::text[]))
        AND ($5 = '' OR project_id = $5)
        AND ($6 = '' OR merchant_id = $6)
        AND ($7::text IS NULL OR status = $7)
        AND ($8::timestamptz IS NULL OR (created_at, campaign_id) < ($8::timestamptz, $9::uuid))
      ORDER BY created_at DESC, campaign_id DESC
      LIMIT $10`,
    [
      scope.all,
      scope.all ? [] : scope.operatorIds,
      scope.all ? [] : scope.projectIds,
      q.operatorId,
      q.projectId,
      q.merchantId,
      q.status ?? null,
      q.after?.createdAt ?? null,
      q.after?.campaignId ?? null,
      q.size + 1,
    ],
  );
  return rows;
}
