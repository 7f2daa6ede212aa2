import type { Pool, PoolClient } from '@citybase/platform';
import type {
  CreatePlacementCommand,
  InteractionInput,
  ListPromotionsQuery,
  ProjectFeedQuery,
  ReviewStatus,
  SubmitPromotionCommand,
} from './promotions.domain';

/**
 * All SQL of the promotion board (migrations/..._promotions.sql); mutations run in the caller's
 * transaction.
 */

type Db = Pool | PoolClient;

export interface PromotionRow {
  promotion_id: string;
  operator_id: string;
  project_id: string;
  merchant_id: string;
  title: string;
  body: string;
  image_refs: string[];
  campaign_id: string;
  valid_from: Date;
  valid_until: Date;
  submitted_by: string;
  created_at: Date;
}

export type PromotionListRow = PromotionRow & { cursor_at: string };

export interface ReviewRow {
  promotion_id: string;
  project_id: string;
  status: ReviewStatus;
  reason: string;
  reviewer: string;
  reviewed_at: Date | null;
}

export interface PlacementRow {
  placement_id: string;
  operator_id: string;
  project_id: string;
  slot: string;
  promotion_id: string;
  valid_from: Date;
  valid_until: Date;
  created_by: string;
  created_at: Date;
}

export interface StatsRow {
  project_id: string;
  placement_id: string;
  impressions: bigint;
  clicks: bigint;
}

const CURSOR_AT = `to_char(p.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS cursor_at`;

// ---- promotions and reviews ----

/** The promotion and one PENDING review per target project. */
export async function insertPromotion(
  client: PoolClient,
  promotionId: string,
  c: SubmitPromotionCommand,
  submittedBy: string,
): Promise<void> {
  await client.query(
    `INSERT INTO promotions (promotion_id, operator_id, project_id, merchant_id, title, body, image_refs,
                             campaign_id, valid_from, valid_until, submitted_by)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
    [
      promotionId,
      c.operatorId,
      c.projectId,
      c.merchantId,
      c.title,
      c.body,
      c.imageRefs,
      c.campaignId,
      c.validFrom,
      c.validUntil,
      submittedBy,
    ],
  );
  await client.query(
    `INSERT INTO promotion_reviews (promotion_id, project_id) SELECT $1, unnest($2::text[])`,
    [promotionId, c.targets],
  );
}

export async function findPromotion(db: Db, promotionId: string): Promise<PromotionRow | undefined> {
  const { rows } = await db.query<PromotionRow>('SELECT * FROM promotions WHERE promotion_id = $1', [
    promotionId,
  ]);
  return rows[0];
}

/** The reviews of these promotions (all projects, or only `projectId`'s), by project. */
export async function findReviews(db: Db, promotionIds: string[], projectId = ''): Promise<ReviewRow[]> {
  if (promotionIds.length === 0) return [];
  const { rows } = await db.query<ReviewRow>(
    `SELECT * FROM promotion_reviews
      WHERE promotion_id = ANY($1::uuid[]) AND ($2 = '' OR project_id = $2)
      ORDER BY promotion_id, project_id`,
    [promotionIds, projectId],
  );
  return rows;
}

/** A project's review of a promotion, locked, with the promotion's operator. */
export async function lockReview(
  client: PoolClient,
  promotionId: string,
  projectId: string,
): Promise<(ReviewRow & { operator_id: string }) | undefined> {
  const { rows } = await client.query<ReviewRow & { operator_id: string }>(
    `SELECT r.*, p.operator_id
       FROM promotion_reviews r JOIN promotions p USING (promotion_id)
      WHERE r.promotion_id = $1 AND r.project_id = $2
      FOR UPDATE OF r`,
    [promotionId, projectId],
  );
  return rows[0];
}

/** Ends a PENDING review (compare-and-set); false when it had ended already. */
export async function endReview(
  client: PoolClient,
  r: { promotionId: string; projectId: string; status: ReviewStatus; reason: string; reviewer: string },
): Promise<boolean> {
  const { rowCount } = await client.query(
    `UPDATE promotion_reviews SET status = $3, reason = $4, reviewer = $5, reviewed_at = clock_timestamp()
      WHERE promotion_id = $1 AND project_id = $2 AND status = 'PENDING'`,
    [r.promotionId, r.projectId, r.status, r.reason, r.reviewer],
  );
  return rowCount === 1;
}

/** One page (size + 1 rows), newest first: a merchant's own promotions (by status of any review). */
export async function listMerchantPromotions(db: Db, q: ListPromotionsQuery): Promise<PromotionListRow[]> {
  const { rows } = await db.query<PromotionListRow>(
    `SELECT p.*, ${CURSOR_AT}
       FROM promotions p
      WHERE p.operator_id = $1 AND p.merchant_id = $2 AND ($3 = '' OR p.project_id = $3)
        AND ($4 = '' OR EXISTS (SELECT 1 FROM promotion_reviews r
                                 WHERE r.promotion_id = p.promotion_id AND r.status = $4))
        AND ($5::timestamptz IS NULL OR (p.created_at, p.promotion_id) < ($5::timestamptz, $6::uuid))
      ORDER BY p.created_at DESC, p.promotion_id DESC
      LIMIT $7`,
    [
      q.operatorId,
      q.merchantId,
      q.projectId,
      q.status,
      q.after?.createdAt ?? null,
      q.after?.promotionId ?? null,
      q.size + 1,
    ],
  );
  return rows;
}

/** One page (size + 1 rows), newest first: the promotions whose review by the project has `status`. */
export async function listProjectPromotions(db: Db, q: ListPromotionsQuery): Promise<PromotionListRow[]> {
  const { rows } = await db.query<PromotionListRow>(
    `SELECT p.*, ${CURSOR_AT}
       FROM promotions p JOIN promotion_reviews r ON r.promotion_id = p.promotion_id AND r.project_id = $2
      WHERE p.operator_id = $1 AND r.status = $3
        AND ($4::timestamptz IS NULL OR (p.created_at, p.promotion_id) < ($4::timestamptz, $5::uuid))
      ORDER BY p.created_at DESC, p.promotion_id DESC
      LIMIT $6`,
    [
      q.operatorId,
      q.projectId,
      q.status,
      q.after?.createdAt ?? null,
      q.after?.promotionId ?? null,
      q.size + 1,
    ],
  );
  return rows;
}

/**
 * The project's feed: promotions APPROVED for it and live at `now`. Residents: one page (size + 1
 * rows), newest first; screen: at most `size`, those with images first, then newest first.
 */
export async function listFeed(db: Db, q: ProjectFeedQuery, now: Date): Promise<PromotionListRow[]> {
  const screen = q.kind === 'SCREEN';
  const { rows } = await db.query<PromotionListRow>(
    `SELECT p.*, ${CURSOR_AT}
       FROM promotions p JOIN promotion_reviews r ON r.promotion_id = p.promotion_id AND r.project_id = $2
      WHERE p.operator_id = $1 AND r.status = 'APPROVED'
        AND p.valid_from <= $3 AND p.valid_until > $3
        AND ($4::timestamptz IS NULL OR (p.created_at, p.promotion_id) < ($4::timestamptz, $5::uuid))
      ORDER BY ${screen ? 'cardinality(p.image_refs) > 0 DESC,' : ''} p.created_at DESC, p.promotion_id DESC
      LIMIT $6`,
    [
      q.operatorId,
      q.projectId,
      now,
      q.after?.createdAt ?? null,
      q.after?.promotionId ?? null,
      screen ? q.size : q.size + 1,
    ],
  );
  return rows;
}

// ---- placements ----

export async function insertPlacement(
  client: PoolClient,
  placementId: string,
  c: CreatePlacementCommand,
  createdBy: string,
): Promise<PlacementRow> {
  const { rows } = await client.query<PlacementRow>(
    `INSERT INTO placements (placement_id, operator_id, project_id, slot, promotion_id, valid_from, valid_until, created_by)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING *`,
    [placementId, c.operatorId, c.projectId, c.slot, c.promotionId, c.validFrom, c.validUntil, createdBy],
  );
  return rows[0] as PlacementRow;
}

export async function findPlacement(db: Db, placementId: string): Promise<PlacementRow | undefined> {
  const { rows } = await db.query<PlacementRow>('SELECT * FROM placements WHERE placement_id = $1', [
    placementId,
  ]);
  return rows[0];
}

// ---- interactions ----

/**
 * Records a batch of interactions in ONE statement: each new interaction id is inserted once (a
 * duplicate, in the batch or from a concurrent batch, hits the primary key and is skipped) and
 * only what was inserted is added to promotion_stats. Interactions of promotions that are not the
 * operator's, or of a placement not hosting that promotion in that project, are ignored. Rows are taken in key order so concurrent batches lock alike. Returns
 * how many were counted now.
 */
export async function recordInteractions(
  db: Db,
  operatorId: string,
  list: InteractionInput[],
): Promise<number> {
  const { rows } = await db.query<{ recorded: string }>(
    `WITH input AS (
       SELECT DISTINCT ON (t.interaction_id) t.*
         FROM unnest($2::text[], $3::uuid[], $4::text[], $5::text[], $6::text[], $7::timestamptz[])
              AS t(interaction_id, promotion_id, placement_id, project_id, kind, occurred_at)
         JOIN promotions p ON p.promotion_id = t.promotion_id AND p.operator_id = $1
        WHERE t.placement_id = ''
           OR EXISTS (SELECT 1 FROM placements pl
                       WHERE pl.placement_id::text = t.placement_id AND pl.promotion_id = t.promotion_id
                         AND pl.project_id = t.project_id)
        ORDER BY t.interaction_id
     ), inserted AS (
       INSERT INTO interactions (interaction_id, promotion_id, placement_id, project_id, kind, occurred_at)
       SELECT interaction_id, promotion_id, placement_id, project_id, kind, occurred_at FROM input
       ORDER BY interaction_id
       ON CONFLICT (interaction_id) DO NOTHING
       RETURNING promotion_id, project_id, placement_id, kind
     ), counted AS (
       INSERT INTO promotion_stats AS s (promotion_id, project_id, placement_id, impressions, clicks)
       SELECT promotion_id, project_id, placement_id,
              count(*) FILTER (WHERE kind = 'IMPRESSION'), count(*) FILTER (WHERE kind = 'CLICK')
         FROM inserted
        GROUP BY promotion_id, project_id, placement_id
        ORDER BY promotion_id, project_id, placement_id
       ON CONFLICT (promotion_id, project_id, placement_id) DO UPDATE
         SET impressions = s.impressions + EXCLUDED.impressions, clicks = s.clicks + EXCLUDED.clicks
       RETURNING 1
     )
     SELECT (SELECT count(*) FROM inserted) AS recorded, (SELECT count(*) FROM counted) AS stats`,
    [
      operatorId,
      list.map((i) => i.interactionId),
      list.map((i) => i.promotionId),
      list.map((i) => i.placementId),
      list.map((i) => i.projectId),
      list.map((i) => i.kind),
      list.map((i) => i.occurredAt),
    ],
  );
  return Number(rows[0]?.recorded ?? 0);
}

/** A promotion's counts per (project, placement); `projectId` '' for every project. */
export async function statsOf(db: Db, promotionId: string, projectId: string): Promise<StatsRow[]> {
  const { rows } = await db.query<StatsRow>(
    `SELECT project_id, placement_id, impressions, clicks FROM promotion_stats
      WHERE promotion_id = $1 AND ($2 = '' OR project_id = $2)
      ORDER BY project_id, placement_id`,
    [promotionId, projectId],
  );
  return rows;
}
