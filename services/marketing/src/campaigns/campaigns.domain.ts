import {
  DomainError,
  fromTimestamp,
  keyPart,
  optionalString,
  pageCursor,
  PageRequestLike,
  parsePage,
  requestId,
  requiredMoney,
  requiredString,
  requiredUuid,
  TENANT_ID,
} from '@citybase/platform';
import {
  CampaignStatus as CampaignStatusProto,
  FundingSource,
  type CreateCampaignRequest,
  type Discount,
  type GetCampaignRequest,
  type ListCampaignsRequest,
  type UpdateCampaignRequest,
} from '@citybase/contracts/citybase/marketing/v1/marketing';
import type { ProtoTimestamp } from '@citybase/platform';
import { CampaignsErrors } from './campaigns.errors';

/**
 * Pure rules of campaigns (docs/marketing.md "Campaigns"): requests validated into commands and
 * queries (INVALID_ARGUMENT naming the proto field, before anything is read or written), the
 * status machine DRAFT > ACTIVE <> PAUSED > ENDED, and the worst-case value of one coupon.
 */

export const CAMPAIGN_STATUSES = ['DRAFT', 'ACTIVE', 'PAUSED', 'ENDED'] as const;
export type CampaignStatus = (typeof CAMPAIGN_STATUSES)[number];

export const FUNDINGS = ['PLATFORM', 'OPERATOR', 'MERCHANT'] as const;
export type Funding = (typeof FUNDINGS)[number];

export const STATUS_OF_PROTO: Record<number, CampaignStatus> = {
  [CampaignStatusProto.CAMPAIGN_STATUS_DRAFT]: 'DRAFT',
  [CampaignStatusProto.CAMPAIGN_STATUS_ACTIVE]: 'ACTIVE',
  [CampaignStatusProto.CAMPAIGN_STATUS_PAUSED]: 'PAUSED',
  [CampaignStatusProto.CAMPAIGN_STATUS_ENDED]: 'ENDED',
};
const FUNDING_OF_PROTO: Record<number, Funding> = {
  [FundingSource.FUNDING_SOURCE_PLATFORM]: 'PLATFORM',
  [FundingSource.FUNDING_SOURCE_OPERATOR]: 'OPERATOR',
  [FundingSource.FUNDING_SOURCE_MERCHANT]: 'MERCHANT',
};

/** The status moves UpdateCampaign allows; the same status is no change. */
const MOVES: Record<CampaignStatus, readonly CampaignStatus[]> = {
  DRAFT: ['ACTIVE', 'ENDED'],
  ACTIVE: ['PAUSED', 'ENDED'],
  PAUSED: ['ACTIVE', 'ENDED'],
  ENDED: [],
};

export type DiscountSpec =
  | { kind: 'AMOUNT_OFF'; amountMinor: bigint }
  | { kind: 'PERCENT_OFF'; basisPoints: number; capMinor: bigint | null }
  | { kind: 'THRESHOLD'; spendMinor: bigint; saveMinor: bigint }
  | { kind: 'FREE_ITEM'; itemCode: string; valueMinor: bigint };

/** A campaign as CreateCampaign sets it (everything but the status, totals and timestamps). */
export interface CampaignSpec {
  operatorId: string;
  projectId: string;
  merchantId: string;
  name: string;
  currency: string;
  discount: DiscountSpec;
  funding: Funding;
  targeting: { projectIds: string[]; merchantIds: string[]; scenarios: number[]; tiers: string[] };
  stacking: { exclusive: boolean; group: string; priority: number };
  claimFrom: Date;
  claimUntil: Date;
  couponValidDays: number;
  useUntil: Date | null;
  maxCoupons: bigint;
  /** null: no money budget. */
  maxSpend: bigint | null;
  perUserLimit: number;
  perHouseholdLimit: number;
  perUserDailyLimit: number;
  flashSale: boolean;
  /** null: none. */
  genericCode: string | null;
}

export interface CreateCampaignCommand extends CampaignSpec {
  requestId: string;
}

/** citybase.common.v1.TenancyRef as a request carries it. */
export interface TenancyInput {
  operatorId?: string;
  projectId?: string;
  merchantId?: string;
}

const OPTIONAL_TENANT_ID = /^[A-Za-z0-9._:-]*$/;

export function optionalTenantId(field: string, value: string | undefined): string {
  const v = optionalString(field, value, { max: TENANT_ID.max });
  if (!OPTIONAL_TENANT_ID.test(v)) throw DomainError.invalid(field, TENANT_ID.patternRule);
  return v;
}

/** Operator (required), project and merchant of a request. */
export function toTenancy(
  t: TenancyInput | undefined,
  field = 'tenancy',
): { operatorId: string; projectId: string; merchantId: string } {
  return {
    operatorId: requiredString(`${field}.operator_id`, t?.operatorId, TENANT_ID),
    projectId: optionalTenantId(`${field}.project_id`, t?.projectId),
    merchantId: optionalTenantId(`${field}.merchant_id`, t?.merchantId),
  };
}

export const GENERIC_CODE = /^[A-Z0-9]{4,32}$/;
const STACKING_GROUP_MAX = 40;
const ITEM_CODE_MAX = 64;
const INT32_MAX = 2 ** 31 - 1;
/** A list of targeting ids is bounded so a campaign row stays small. */
const TARGET_LIST_MAX = 100;

function timestamp(field: string, ts: ProtoTimestamp | undefined): Date {
  if (!ts) throw DomainError.invalid(field, 'is required');
  const d = fromTimestamp(ts);
  if (Number.isNaN(d.getTime())) throw DomainError.invalid(field, 'is not a valid time');
  return d;
}

function nonNegativeLimit(field: string, v: number | undefined): number {
  const n = v ?? 0;
  if (!Number.isInteger(n) || n < 0) throw DomainError.invalid(field, 'must not be negative (0: no limit)');
  return n;
}

function toDiscount(d: Discount | undefined): { currency: string; discount: DiscountSpec } {
  const kind = d?.kind;
  if (!kind)
    throw DomainError.invalid(
      'campaign.discount',
      'is required: one of amount_off, percent_off, threshold, free_item',
    );
  switch (kind.$case) {
    case 'amountOff': {
      const m = requiredMoney('campaign.discount.amount_off', kind.value);
      return { currency: m.currency, discount: { kind: 'AMOUNT_OFF', amountMinor: m.amountMinor } };
    }
    case 'percentOff': {
      const bp = kind.value.basisPoints;
      if (!Number.isInteger(bp) || bp < 1 || bp > 10_000)
        throw DomainError.invalid(
          'campaign.discount.percent_off.basis_points',
          'must be 1-10000 (1000 = 10%)',
        );
      const cap = kind.value.cap
        ? requiredMoney('campaign.discount.percent_off.cap', kind.value.cap)
        : undefined;
      return {
        currency: cap?.currency ?? '',
        discount: { kind: 'PERCENT_OFF', basisPoints: bp, capMinor: cap?.amountMinor ?? null },
      };
    }
    case 'threshold': {
      const spend = requiredMoney('campaign.discount.threshold.spend', kind.value.spend);
      const save = requiredMoney('campaign.discount.threshold.save', kind.value.save);
      if (save.currency !== spend.currency)
        throw DomainError.invalid(
          'campaign.discount.threshold.save.currency',
          'must be the currency of spend',
        );
      if (save.amountMinor > spend.amountMinor)
        throw DomainError.invalid('campaign.discount.threshold.save.amount_minor', 'must not exceed spend');
      return {
        currency: spend.currency,
        discount: { kind: 'THRESHOLD', spendMinor: spend.amountMinor, saveMinor: save.amountMinor },
      };
    }
    case 'freeItem': {
      const itemCode = requiredString('campaign.discount.free_item.item_code', kind.value.itemCode, {
        max: ITEM_CODE_MAX,
      });
      const value = requiredMoney('campaign.discount.free_item.value', kind.value.value);
      return {
        currency: value.currency,
        discount: { kind: 'FREE_ITEM', itemCode, valueMinor: value.amountMinor },
      };
    }
  }
}

/** The most one coupon can take off: what it charges to the money budget (0: a percentage without cap). */
export function couponMaxValue(d: DiscountSpec): bigint {
  switch (d.kind) {
    case 'AMOUNT_OFF':
      return d.amountMinor;
    case 'PERCENT_OFF':
      return d.capMinor ?? 0n;
    case 'THRESHOLD':
      return d.saveMinor;
    case 'FREE_ITEM':
      return d.valueMinor;
  }
}

function idList(field: string, ids: string[] | undefined): string[] {
  const list = ids ?? [];
  if (list.length > TARGET_LIST_MAX)
    throw DomainError.invalid(field, `must have at most ${TARGET_LIST_MAX} entries`);
  list.forEach((id, i) => requiredString(`${field}[${i}]`, id, TENANT_ID));
  return [...new Set(list.map((id) => id.trim()))];
}

export function toCreateCampaignCommand(req: Partial<CreateCampaignRequest>): CreateCampaignCommand {
  const id = requestId(req.requestId);
  const c = req.campaign;
  if (!c) throw DomainError.invalid('campaign', 'is required');
  const tenancy = toTenancy(c.tenancy, 'campaign.tenancy');
  const name = requiredString('campaign.name', c.name, { max: 80 });
  const { currency: discountCurrency, discount } = toDiscount(c.discount);
  const funding = FUNDING_OF_PROTO[c.funding ?? 0];
  if (!funding) throw DomainError.invalid('campaign.funding', 'is required: PLATFORM, OPERATOR or MERCHANT');
  if (funding === 'MERCHANT' && tenancy.merchantId === '')
    throw DomainError.invalid(
      'campaign.tenancy.merchant_id',
      'is required when the merchant funds the campaign',
    );
  const t = c.targeting;
  const scenarios = [...new Set(t?.scenarios ?? [])];
  scenarios.forEach((s, i) => {
    if (!Number.isInteger(s) || s <= 0 || s > 6)
      throw DomainError.invalid(`campaign.targeting.scenarios[${i}]`, `unknown value ${s}`);
  });
  const tiers = [...new Set(t?.tiers ?? [])];
  tiers.forEach((tier, i) => requiredString(`campaign.targeting.tiers[${i}]`, tier, { max: 40 }));
  const s = c.stacking;
  const group = optionalString('campaign.stacking.group', s?.group, { max: STACKING_GROUP_MAX });
  const claimFrom = timestamp('campaign.claim_from', c.claimFrom);
  const claimUntil = timestamp('campaign.claim_until', c.claimUntil);
  if (claimUntil.getTime() <= claimFrom.getTime())
    throw DomainError.invalid('campaign.claim_until', 'must be after claim_from');
  const couponValidDays = c.couponValidDays ?? 0;
  if (!Number.isInteger(couponValidDays) || couponValidDays < 1 || couponValidDays > 365)
    throw DomainError.invalid('campaign.coupon_valid_days', 'must be 1-365');
  const useUntil = c.useUntil ? timestamp('campaign.use_until', c.useUntil) : null;
  if (useUntil && useUntil.getTime() <= claimFrom.getTime())
    throw DomainError.invalid('campaign.use_until', 'must be after claim_from');
  const maxCoupons = c.maxCoupons ?? 0n;
  if (maxCoupons <= 0n) throw DomainError.invalid('campaign.max_coupons', 'must be positive');
  let maxSpend: bigint | null = null;
  let currency = discountCurrency;
  if (c.maxSpend) {
    const m = requiredMoney('campaign.max_spend', c.maxSpend, { allowZero: true });
    if (currency !== '' && m.currency !== currency)
      throw DomainError.invalid('campaign.max_spend.currency', 'must be the currency of the discount');
    currency = m.currency;
    maxSpend = m.amountMinor;
    if (discount.kind === 'PERCENT_OFF' && discount.capMinor === null)
      throw DomainError.invalid(
        'campaign.discount.percent_off.cap',
        'is required with a money budget (max_spend): a coupon without cap has no worst case',
      );
  }
  if (currency === '')
    throw DomainError.invalid(
      'campaign.discount.percent_off.cap',
      'is required (or max_spend): it names the currency',
    );
  const genericCode = (c.genericCode ?? '').trim();
  if (genericCode !== '' && !GENERIC_CODE.test(genericCode))
    throw DomainError.invalid('campaign.generic_code', 'must be 4-32 of A-Z and 0-9');
  const priority = s?.priority ?? 0;
  if (!Number.isInteger(priority) || Math.abs(priority) > INT32_MAX)
    throw DomainError.invalid('campaign.stacking.priority', 'must be an int32');
  return {
    requestId: id,
    ...tenancy,
    name,
    currency,
    discount,
    funding,
    targeting: {
      projectIds: idList('campaign.targeting.project_ids', t?.projectIds),
      merchantIds: idList('campaign.targeting.merchant_ids', t?.merchantIds),
      scenarios,
      tiers,
    },
    stacking: { exclusive: s?.exclusive ?? false, group, priority },
    claimFrom,
    claimUntil,
    couponValidDays,
    useUntil,
    maxCoupons,
    maxSpend,
    perUserLimit: nonNegativeLimit('campaign.per_user_limit', c.perUserLimit),
    perHouseholdLimit: nonNegativeLimit('campaign.per_household_limit', c.perHouseholdLimit),
    perUserDailyLimit: nonNegativeLimit('campaign.per_user_daily_limit', c.perUserDailyLimit),
    flashSale: c.flashSale ?? false,
    genericCode: genericCode === '' ? null : genericCode,
  };
}

export interface UpdateCampaignCommand {
  requestId: string;
  operatorId: string;
  projectId: string;
  campaignId: string;
  /** undefined: unchanged. */
  status: CampaignStatus | undefined;
  maxCoupons: bigint | undefined;
  maxSpend: { currency: string; amountMinor: bigint } | undefined;
  claimUntil: Date | undefined;
}

export function toUpdateCampaignCommand(req: Partial<UpdateCampaignRequest>): UpdateCampaignCommand {
  const id = requestId(req.requestId);
  const tenancy = toTenancy(req.tenancy);
  const campaignId = requiredUuid('campaign_id', req.campaignId);
  let status: CampaignStatus | undefined;
  if (req.status !== undefined && req.status !== 0) {
    status = STATUS_OF_PROTO[req.status];
    if (!status) throw DomainError.invalid('status', `unknown value ${req.status}`);
  }
  const maxCoupons = req.maxCoupons ?? 0n;
  if (maxCoupons < 0n) throw DomainError.invalid('max_coupons', 'must not be negative (0: unchanged)');
  const maxSpend = req.maxSpend ? requiredMoney('max_spend', req.maxSpend, { allowZero: true }) : undefined;
  const claimUntil = req.claimUntil ? timestamp('claim_until', req.claimUntil) : undefined;
  if (status === undefined && maxCoupons === 0n && !maxSpend && !claimUntil)
    throw DomainError.invalid(
      'status',
      'nothing to change: give a status, max_coupons, max_spend or claim_until',
    );
  return {
    requestId: id,
    operatorId: tenancy.operatorId,
    projectId: tenancy.projectId,
    campaignId,
    status,
    maxCoupons: maxCoupons === 0n ? undefined : maxCoupons,
    maxSpend,
    claimUntil,
  };
}

/** The campaign after an update; refusals are FAILED_PRECONDITION naming the rule. */
export function decideUpdate(
  current: {
    campaignId: string;
    status: CampaignStatus;
    currency: string;
    claimed: bigint;
    claimedValue: bigint;
    claimUntil: Date;
    maxCoupons: bigint;
    maxSpend: bigint | null;
  },
  cmd: UpdateCampaignCommand,
): { status: CampaignStatus; maxCoupons: bigint; maxSpend: bigint | null; claimUntil: Date } {
  let status = current.status;
  if (cmd.status !== undefined && cmd.status !== current.status) {
    if (!MOVES[current.status].includes(cmd.status))
      throw CampaignsErrors.badMove(current.campaignId, current.status, cmd.status);
    status = cmd.status;
  }
  const maxCoupons = cmd.maxCoupons ?? current.maxCoupons;
  if (maxCoupons < current.claimed) throw CampaignsErrors.belowClaimed('max_coupons', current.claimed);
  let maxSpend = current.maxSpend;
  if (cmd.maxSpend) {
    if (cmd.maxSpend.currency !== current.currency)
      throw DomainError.invalid('max_spend.currency', `must be the campaign's currency ${current.currency}`);
    if (cmd.maxSpend.amountMinor < current.claimedValue)
      throw CampaignsErrors.belowClaimed('max_spend', current.claimedValue);
    maxSpend = cmd.maxSpend.amountMinor;
  }
  let claimUntil = current.claimUntil;
  if (cmd.claimUntil) {
    if (cmd.claimUntil.getTime() <= current.claimUntil.getTime())
      throw DomainError.invalid('claim_until', 'can only be extended (later than now set)');
    claimUntil = cmd.claimUntil;
  }
  if (current.status === 'ENDED' && (cmd.maxCoupons || cmd.maxSpend || cmd.claimUntil))
    throw CampaignsErrors.ended(current.campaignId);
  return { status, maxCoupons, maxSpend, claimUntil };
}

export interface GetCampaignQuery {
  operatorId: string;
  projectId: string;
  campaignId: string;
}

export function toGetCampaignQuery(req: Partial<GetCampaignRequest>): GetCampaignQuery {
  const t = toTenancy(req.tenancy);
  return {
    operatorId: t.operatorId,
    projectId: t.projectId,
    campaignId: requiredUuid('campaign_id', req.campaignId),
  };
}

/** Page tokens of ListCampaigns: newest first, by (created_at, campaign_id). */
export const CAMPAIGNS_PAGE = pageCursor('marketing.campaigns', keyPart.timestamp, keyPart.uuid);

export interface ListCampaignsQuery {
  operatorId: string;
  projectId: string;
  merchantId: string;
  status: CampaignStatus | undefined;
  size: number;
  after: { createdAt: string; campaignId: string } | undefined;
}

export function toListCampaignsQuery(
  req: Partial<ListCampaignsRequest> & { page?: PageRequestLike },
): ListCampaignsQuery {
  const t = toTenancy(req.tenancy);
  let status: CampaignStatus | undefined;
  if (req.status !== undefined && req.status !== 0) {
    status = STATUS_OF_PROTO[req.status];
    if (!status) throw DomainError.invalid('status', `unknown value ${req.status}`);
  }
  const { size, after } = parsePage(req.page, CAMPAIGNS_PAGE);
  return { ...t, status, size, after: after && { createdAt: after[0], campaignId: after[1] } };
}
