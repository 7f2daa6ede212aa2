import {
  DomainError,
  keyPart,
  optionalString,
  pageCursor,
  PageRequestLike,
  parsePage,
  type ProtoTimestamp,
  requestId,
  requiredEnum,
  requiredString,
  requiredTimestamp,
  requiredUuid,
  TENANT_ID,
} from '@citybase/platform';
import {
  FeedKind,
  InteractionKind,
  PromotionStatus,
  type Interaction,
  type Placement,
  type Promotion,
} from '@citybase/contracts/citybase/marketing/v1/marketing';

/**
 * Pure rules of the promotion board (no I/O): requests validated into commands and queries
 * (INVALID_ARGUMENT naming the proto field, before anything is read or written).
 */

export const PROMOTION_LIMITS = {
  title: 80,
  body: 2000,
  images: 9,
  imageRef: 1024,
  targets: 50,
  reason: 200,
  slot: 40,
  interactions: 1000,
  /** Items of a screen feed. */
  screenItems: 10,
} as const;

export type ReviewStatus = 'PENDING' | 'APPROVED' | 'REJECTED';
export type InteractionKindName = 'IMPRESSION' | 'CLICK';

interface TenancyInput {
  operatorId?: string;
  projectId?: string;
  merchantId?: string;
}

/** An https URL (no credentials) or an object-store key (letters, digits, . _ - /, no "..", no leading /). */
const OBJECT_KEY = /^[A-Za-z0-9][A-Za-z0-9._/-]*$/;
export function isImageRef(ref: string): boolean {
  if (ref.length === 0 || ref.length > PROMOTION_LIMITS.imageRef) return false;
  if (ref.startsWith('https://')) {
    try {
      const u = new URL(ref);
      return u.protocol === 'https:' && u.hostname !== '' && u.username === '' && u.password === '';
    } catch {
      return false;
    }
  }
  return OBJECT_KEY.test(ref) && !ref.split('/').includes('..') && !ref.includes('//');
}

/** Text length as PostgreSQL's char_length counts it (code points). */
const chars = (s: string): number => [...s].length;

function text(field: string, value: string | undefined, max: number): string {
  const v = (value ?? '').trim();
  if (v.length === 0) throw DomainError.invalid(field, 'is required');
  if (chars(v) > max) throw DomainError.invalid(field, `must be 1-${max} characters`);
  return v;
}

function window(
  field: string,
  from: ProtoTimestamp | undefined,
  until: ProtoTimestamp | undefined,
): { validFrom: Date; validUntil: Date } {
  const validFrom = requiredTimestamp(`${field}.valid_from`, from);
  const validUntil = requiredTimestamp(`${field}.valid_until`, until);
  if (validUntil <= validFrom) throw DomainError.invalid(`${field}.valid_until`, 'must be after valid_from');
  return { validFrom, validUntil };
}

const projectOf = (field: string, t: TenancyInput | undefined): string =>
  requiredString(field, t?.projectId, TENANT_ID);

// ---- SubmitPromotion ----

export interface SubmitPromotionCommand {
  requestId: string;
  operatorId: string;
  /** '' when the merchant belongs to the operator directly. */
  projectId: string;
  merchantId: string;
  title: string;
  body: string;
  imageRefs: string[];
  campaignId: string;
  validFrom: Date;
  validUntil: Date;
  /** The target projects, in the order given, each once. */
  targets: string[];
}

export function toSubmitPromotionCommand(req: {
  requestId?: string;
  promotion?: Omit<Partial<Promotion>, 'reviews'> & { reviews?: { projectId?: string }[] };
}): SubmitPromotionCommand {
  const id = requestId(req.requestId);
  const p = req.promotion;
  if (!p) throw DomainError.invalid('promotion', 'is required');
  const operatorId = requiredString('promotion.tenancy.operator_id', p.tenancy?.operatorId, TENANT_ID);
  const projectId = p.tenancy?.projectId
    ? requiredString('promotion.tenancy.project_id', p.tenancy.projectId, TENANT_ID)
    : '';
  const merchantId = requiredString('promotion.tenancy.merchant_id', p.tenancy?.merchantId, TENANT_ID);
  const title = text('promotion.title', p.title, PROMOTION_LIMITS.title);
  const body = text('promotion.body', p.body, PROMOTION_LIMITS.body);
  const images = p.imageRefs ?? [];
  if (images.length > PROMOTION_LIMITS.images)
    throw DomainError.invalid('promotion.image_refs', `must be at most ${PROMOTION_LIMITS.images}`);
  images.forEach((ref, i) => {
    if (!isImageRef(ref))
      throw DomainError.invalid(
        `promotion.image_refs[${i}]`,
        `must be an https URL or an object key, at most ${PROMOTION_LIMITS.imageRef} characters`,
      );
  });
  const campaignId = p.campaignId ? requiredUuid('promotion.campaign_id', p.campaignId) : '';
  const { validFrom, validUntil } = window('promotion', p.validFrom, p.validUntil);
  const reviews = p.reviews ?? [];
  if (reviews.length === 0 || reviews.length > PROMOTION_LIMITS.targets)
    throw DomainError.invalid('promotion.reviews', `must name 1-${PROMOTION_LIMITS.targets} target projects`);
  const targets: string[] = [];
  reviews.forEach((r, i) => {
    const project = requiredString(`promotion.reviews[${i}].project_id`, r.projectId, TENANT_ID);
    if (targets.includes(project))
      throw DomainError.invalid(`promotion.reviews[${i}].project_id`, 'names a project already listed');
    targets.push(project);
  });
  return {
    requestId: id,
    operatorId,
    projectId,
    merchantId,
    title,
    body,
    imageRefs: images,
    campaignId,
    validFrom,
    validUntil,
    targets,
  };
}

// ---- ReviewPromotion ----

export interface ReviewPromotionCommand {
  requestId: string;
  operatorId: string;
  /** The reviewing project. */
  projectId: string;
  promotionId: string;
  decision: Exclude<ReviewStatus, 'PENDING'>;
  /** Required when rejecting, '' when approving. */
  reason: string;
}

export function toReviewPromotionCommand(req: {
  requestId?: string;
  tenancy?: TenancyInput;
  promotionId?: string;
  decision?: PromotionStatus;
  reason?: string;
}): ReviewPromotionCommand {
  const id = requestId(req.requestId);
  const operatorId = requiredString('tenancy.operator_id', req.tenancy?.operatorId, TENANT_ID);
  const projectId = projectOf('tenancy.project_id', req.tenancy);
  const promotionId = requiredUuid('promotion_id', req.promotionId);
  const d = requiredEnum('decision', req.decision, PromotionStatus);
  if (d !== PromotionStatus.PROMOTION_STATUS_APPROVED && d !== PromotionStatus.PROMOTION_STATUS_REJECTED)
    throw DomainError.invalid('decision', 'must be APPROVED or REJECTED');
  const decision = d === PromotionStatus.PROMOTION_STATUS_APPROVED ? 'APPROVED' : 'REJECTED';
  let reason = '';
  if (decision === 'REJECTED') reason = text('reason', req.reason, PROMOTION_LIMITS.reason);
  else if ((req.reason ?? '').trim() !== '')
    throw DomainError.invalid('reason', 'must be empty when approving');
  return { requestId: id, operatorId, projectId, promotionId, decision, reason };
}

/**
 * What a review does with its row: decide it (PENDING), answer it as it is (already the same
 * decision), or refuse (already the other decision: a review ends once).
 */
export function decideReview(
  current: ReviewStatus,
  decision: Exclude<ReviewStatus, 'PENDING'>,
): 'decide' | 'unchanged' | 'refuse' {
  if (current === 'PENDING') return 'decide';
  return current === decision ? 'unchanged' : 'refuse';
}

// ---- lists and feeds ----

/** Page tokens of ListPromotions and the residents' feed: by (created_at, promotion_id), newest first. */
export const PROMOTIONS_PAGE = pageCursor('marketing.promotions', keyPart.timestamp, keyPart.uuid);
export const FEED_PAGE = pageCursor('marketing.feed', keyPart.timestamp, keyPart.uuid);

type After = { createdAt: string; promotionId: string } | undefined;

export interface ListPromotionsQuery {
  operatorId: string;
  projectId: string;
  /** Set: the merchant's own promotions; else the project's reviews. */
  merchantId: string;
  /** '' with a merchant: every status; '' for a project: PENDING. */
  status: ReviewStatus | '';
  size: number;
  after: After;
}

const STATUS_NAMES: Record<number, ReviewStatus> = {
  [PromotionStatus.PROMOTION_STATUS_PENDING]: 'PENDING',
  [PromotionStatus.PROMOTION_STATUS_APPROVED]: 'APPROVED',
  [PromotionStatus.PROMOTION_STATUS_REJECTED]: 'REJECTED',
};

export function toListPromotionsQuery(req: {
  tenancy?: TenancyInput;
  status?: PromotionStatus;
  page?: PageRequestLike;
}): ListPromotionsQuery {
  const operatorId = requiredString('tenancy.operator_id', req.tenancy?.operatorId, TENANT_ID);
  const projectId = req.tenancy?.projectId
    ? requiredString('tenancy.project_id', req.tenancy.projectId, TENANT_ID)
    : '';
  const merchantId = req.tenancy?.merchantId
    ? requiredString('tenancy.merchant_id', req.tenancy.merchantId, TENANT_ID)
    : '';
  if (merchantId === '' && projectId === '')
    throw DomainError.invalid('tenancy.project_id', 'is required (or tenancy.merchant_id for a merchant)');
  let status: ReviewStatus | '' = '';
  if (req.status) status = STATUS_NAMES[requiredEnum('status', req.status, PromotionStatus)] ?? '';
  if (merchantId === '' && status === '') status = 'PENDING';
  const { size, after } = parsePage(req.page, PROMOTIONS_PAGE);
  return {
    operatorId,
    projectId,
    merchantId,
    status,
    size,
    after: after && { createdAt: after[0], promotionId: after[1] },
  };
}

export interface ProjectFeedQuery {
  operatorId: string;
  projectId: string;
  kind: 'RESIDENTS' | 'SCREEN';
  size: number;
  after: After;
}

export function toProjectFeedQuery(req: {
  tenancy?: TenancyInput;
  kind?: FeedKind;
  page?: PageRequestLike;
}): ProjectFeedQuery {
  const operatorId = requiredString('tenancy.operator_id', req.tenancy?.operatorId, TENANT_ID);
  const projectId = projectOf('tenancy.project_id', req.tenancy);
  const kind =
    requiredEnum('kind', req.kind, FeedKind) === FeedKind.FEED_KIND_SCREEN ? 'SCREEN' : 'RESIDENTS';
  if (kind === 'SCREEN') {
    // one rotation of at most 10 items: no pages
    if (req.page?.pageToken) throw DomainError.invalid('page.page_token', 'a screen feed has one page');
    return { operatorId, projectId, kind, size: PROMOTION_LIMITS.screenItems, after: undefined };
  }
  const { size, after } = parsePage(req.page, FEED_PAGE);
  return {
    operatorId,
    projectId,
    kind,
    size,
    after: after && { createdAt: after[0], promotionId: after[1] },
  };
}

// ---- placements ----

export interface CreatePlacementCommand {
  requestId: string;
  operatorId: string;
  projectId: string;
  slot: string;
  promotionId: string;
  validFrom: Date;
  validUntil: Date;
}

const SLOT = {
  max: PROMOTION_LIMITS.slot,
  pattern: /^[a-z0-9][a-z0-9._-]*$/,
  patternRule: 'must be 1-40 lowercase letters, digits, dots, dashes or underscores',
};

export function toCreatePlacementCommand(req: {
  requestId?: string;
  placement?: Partial<Placement>;
}): CreatePlacementCommand {
  const id = requestId(req.requestId);
  const p = req.placement;
  if (!p) throw DomainError.invalid('placement', 'is required');
  const operatorId = requiredString('placement.tenancy.operator_id', p.tenancy?.operatorId, TENANT_ID);
  const projectId = projectOf('placement.tenancy.project_id', p.tenancy);
  const slot = requiredString('placement.slot', p.slot, SLOT);
  const promotionId = requiredUuid('placement.promotion_id', p.promotionId);
  return {
    requestId: id,
    operatorId,
    projectId,
    slot,
    promotionId,
    ...window('placement', p.validFrom, p.validUntil),
  };
}

// ---- interactions ----

export interface InteractionInput {
  interactionId: string;
  promotionId: string;
  placementId: string;
  projectId: string;
  kind: InteractionKindName;
  occurredAt: Date;
}

export interface RecordInteractionsCommand {
  operatorId: string;
  /** '' for an operator's client reporting for any of its projects. */
  projectId: string;
  interactions: InteractionInput[];
}

export function toRecordInteractionsCommand(
  req: { tenancy?: TenancyInput; interactions?: Interaction[] },
  now: Date,
): RecordInteractionsCommand {
  const operatorId = requiredString('tenancy.operator_id', req.tenancy?.operatorId, TENANT_ID);
  const projectId = req.tenancy?.projectId
    ? requiredString('tenancy.project_id', req.tenancy.projectId, TENANT_ID)
    : '';
  const list = req.interactions ?? [];
  if (list.length === 0 || list.length > PROMOTION_LIMITS.interactions)
    throw DomainError.invalid('interactions', `must hold 1-${PROMOTION_LIMITS.interactions} interactions`);
  const interactions = list.map((i, n): InteractionInput => {
    const f = `interactions[${n}]`;
    const project = requiredString(`${f}.project_id`, i.projectId, TENANT_ID);
    if (projectId !== '' && project !== projectId)
      throw DomainError.invalid(`${f}.project_id`, "must be the tenancy's project");
    const kind = requiredEnum(`${f}.kind`, i.kind, InteractionKind);
    return {
      interactionId: requestId(i.interactionId, `${f}.interaction_id`),
      promotionId: requiredUuid(`${f}.promotion_id`, i.promotionId),
      placementId: i.placementId ? requiredUuid(`${f}.placement_id`, i.placementId) : '',
      projectId: project,
      kind: kind === InteractionKind.INTERACTION_KIND_CLICK ? 'CLICK' : 'IMPRESSION',
      occurredAt: i.occurredAt ? requiredTimestamp(`${f}.occurred_at`, i.occurredAt) : now,
    };
  });
  return { operatorId, projectId, interactions };
}

export interface PromotionStatsQuery {
  operatorId: string;
  projectId: string;
  merchantId: string;
  promotionId: string;
}

export function toPromotionStatsQuery(req: {
  tenancy?: TenancyInput;
  promotionId?: string;
}): PromotionStatsQuery {
  return {
    operatorId: requiredString('tenancy.operator_id', req.tenancy?.operatorId, TENANT_ID),
    projectId: optionalString('tenancy.project_id', req.tenancy?.projectId, { max: 64 }),
    merchantId: optionalString('tenancy.merchant_id', req.tenancy?.merchantId, { max: 64 }),
    promotionId: requiredUuid('promotion_id', req.promotionId),
  };
}

/** The impression token of a feed item: which promotion was shown in which project. */
export function impressionToken(promotionId: string, projectId: string): string {
  return Buffer.from(`${promotionId}:${projectId}`).toString('base64url');
}
