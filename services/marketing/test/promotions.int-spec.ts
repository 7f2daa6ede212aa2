import { toTimestamp } from '@citybase/platform';
import { uniqueName } from '@citybase/platform/testing';
import {
  FeedKind,
  InteractionKind,
  Promotion,
  PromotionStatus,
} from '@citybase/contracts/citybase/marketing/v1/marketing';
import {
  ALL_MARKETING_SCOPES,
  errorCode,
  errorField,
  eventsOf,
  grpcError,
  MarketingClient,
  MarketingHarness,
  rowCounts,
  startMarketingHarness,
  status,
} from './marketing-harness';

const A = 'op-a';
const B = 'op-b';
const HOUR = 3_600_000;
const at = (msFromNow: number) => toTimestamp(new Date(Date.now() + msFromNow));
const {
  PROMOTION_STATUS_APPROVED: APPROVED,
  PROMOTION_STATUS_REJECTED: REJECTED,
  PROMOTION_STATUS_PENDING: PENDING,
} = PromotionStatus;

const promotion = (merchantId: string, targets: string[], over: Partial<Promotion> = {}): Promotion => ({
  promotionId: '',
  tenancy: { operatorId: A, projectId: '', merchantId },
  title: 'Noodles: 20% off this week',
  body: 'Hand-pulled noodles at the north gate.',
  imageRefs: ['https://img.city.example/noodles.jpg', 'merchants/m-1/menu.png'],
  campaignId: '',
  validFrom: at(-HOUR),
  validUntil: at(24 * HOUR),
  reviews: targets.map((projectId) => ({
    projectId,
    status: 0,
    reason: '',
    reviewer: '',
    reviewedAt: undefined,
  })),
  createdAt: undefined,
  ...over,
});

describe('marketing: the promotion board (in-process service)', () => {
  let h: MarketingHarness;
  let merchant: MarketingClient;
  const staff = (projectId: string) => h.clientOf({ projects: [projectId] });

  beforeAll(async () => {
    h = await startMarketingHarness('promotions', {}, ALL_MARKETING_SCOPES);
    merchant = h.clientOf({ operators: [A] }, ['marketing:promote', 'marketing:read']);
  });

  afterAll(async () => {
    await h?.stop();
  });

  const counts = () =>
    rowCounts(h.pool, ['promotions', 'promotion_reviews', 'placements', 'idempotency_keys', 'outbox']);
  const submit = async (merchantId: string, targets: string[], over: Partial<Promotion> = {}) =>
    (
      await merchant.submitPromotion({
        requestId: uniqueName('r'),
        promotion: promotion(merchantId, targets, over),
      })
    ).promotion!;
  const review = (projectId: string, promotionId: string, decision: PromotionStatus, reason = '') =>
    staff(projectId).reviewPromotion({
      requestId: uniqueName('r'),
      tenancy: { operatorId: A, projectId, merchantId: '' },
      promotionId,
      decision,
      reason,
    });

  it('submits one PENDING review per target project; a repeat answers it, another body is refused', async () => {
    const req = { requestId: uniqueName('r'), promotion: promotion('m-1', ['p-1', 'p-2']) };
    const p = (await merchant.submitPromotion(req)).promotion!;
    expect(p).toMatchObject({
      tenancy: { operatorId: A, projectId: '', merchantId: 'm-1' },
      title: 'Noodles: 20% off this week',
      imageRefs: ['https://img.city.example/noodles.jpg', 'merchants/m-1/menu.png'],
      reviews: [
        { projectId: 'p-1', status: PENDING, reason: '', reviewer: '' },
        { projectId: 'p-2', status: PENDING, reason: '', reviewer: '' },
      ],
    });
    expect((await merchant.submitPromotion(req)).promotion).toEqual(p);
    const err = await grpcError(
      merchant.submitPromotion({ ...req, promotion: promotion('m-1', ['p-1', 'p-2'], { title: 'Other' }) }),
    );
    expect([err.code, errorCode(err)]).toEqual([status.ALREADY_EXISTS, 'REQUEST_ID_REUSED']);
    const submitted = (await eventsOf(h.pool, 'PromotionSubmitted')).filter(
      (e) => e.promotion?.promotionId === p.promotionId,
    );
    expect(submitted.map((e) => e.promotion?.reviews.map((r) => r.projectId))).toEqual([['p-1', 'p-2']]);
  });

  it('validates, naming the field, before anything is written', async () => {
    const before = await counts();
    const long = (n: number) => 'x'.repeat(n);
    const cases: [Partial<Promotion>, string][] = [
      [{ title: '' }, 'promotion.title'],
      [{ title: long(81) }, 'promotion.title'],
      [{ body: long(2001) }, 'promotion.body'],
      [{ imageRefs: Array.from({ length: 10 }, (_, i) => `k/${i}.png`) }, 'promotion.image_refs'],
      [{ imageRefs: ['http://plain.example/a.png'] }, 'promotion.image_refs[0]'],
      [{ imageRefs: ['ok.png', '../etc/passwd'] }, 'promotion.image_refs[1]'],
      [{ validUntil: at(-2 * HOUR) }, 'promotion.valid_until'],
      [{ validFrom: undefined }, 'promotion.valid_from'],
      [{ reviews: [] }, 'promotion.reviews'],
      [{ tenancy: { operatorId: A, projectId: '', merchantId: '' } }, 'promotion.tenancy.merchant_id'],
    ];
    for (const [over, field] of cases) {
      const err = await grpcError(
        merchant.submitPromotion({ requestId: uniqueName('r'), promotion: promotion('m-1', ['p-1'], over) }),
      );
      expect([field, err.code, errorField(err)]).toEqual([field, status.INVALID_ARGUMENT, field]);
    }
    const fiftyOne = Array.from({ length: 51 }, (_, i) => `p-${i}`);
    for (const [targets, field] of [
      [fiftyOne, 'promotion.reviews'],
      [['p-1', 'p-1'], 'promotion.reviews[1].project_id'],
    ] as const) {
      const err = await grpcError(
        merchant.submitPromotion({ requestId: uniqueName('r'), promotion: promotion('m-1', [...targets]) }),
      );
      expect([err.code, errorField(err)]).toEqual([status.INVALID_ARGUMENT, field]);
    }
    // 9 images, 50 projects and 80 / 2000 characters are fine
    const edge = await submit('m-1', fiftyOne.slice(0, 50), {
      title: long(80),
      body: long(2000),
      imageRefs: Array.from({ length: 9 }, (_, i) => `k/${i}.png`),
    });
    expect(edge.reviews).toHaveLength(50);
    const after = await counts();
    expect(after.promotions).toBe(before.promotions + 1);
    expect(after.promotion_reviews).toBe(before.promotion_reviews + 50);
  });

  it('each target project reviews once: approve, reject with a reason, re-review refused', async () => {
    const p = await submit('m-1', ['p-1', 'p-2']);
    const approved = (await review('p-1', p.promotionId, APPROVED)).promotion!;
    // the reviewing project sees its own review
    expect(approved.reviews).toEqual([
      expect.objectContaining({
        projectId: 'p-1',
        status: APPROVED,
        reason: '',
        reviewedAt: expect.anything(),
      }),
    ]);
    const missing = await grpcError(review('p-2', p.promotionId, REJECTED));
    expect([missing.code, errorField(missing)]).toEqual([status.INVALID_ARGUMENT, 'reason']);
    await review('p-2', p.promotionId, REJECTED, 'No food flyers in the lobby');

    // the same decision again answers it as it is; the other one is refused
    expect((await review('p-1', p.promotionId, APPROVED)).promotion?.reviews[0]?.status).toBe(APPROVED);
    const again = await grpcError(review('p-1', p.promotionId, REJECTED, 'changed my mind'));
    expect([again.code, errorCode(again)]).toEqual([
      status.FAILED_PRECONDITION,
      'PROMOTION_ALREADY_REVIEWED',
    ]);
    const flip = await grpcError(review('p-2', p.promotionId, APPROVED));
    expect([flip.code, errorCode(flip)]).toEqual([status.FAILED_PRECONDITION, 'PROMOTION_ALREADY_REVIEWED']);

    // a repeated request id answers the first outcome
    const req = {
      requestId: uniqueName('r'),
      tenancy: { operatorId: A, projectId: 'p-3', merchantId: '' },
      promotionId: (await submit('m-1', ['p-3'])).promotionId,
      decision: APPROVED,
      reason: '',
    };
    const first = (await staff('p-3').reviewPromotion(req)).promotion;
    expect((await staff('p-3').reviewPromotion(req)).promotion).toEqual(first);

    const approvedEvents = (await eventsOf(h.pool, 'PromotionApproved')).filter(
      (e) => e.promotion?.promotionId === p.promotionId,
    );
    expect(approvedEvents.map((e) => e.projectId)).toEqual(['p-1']);
    const rejected = (await eventsOf(h.pool, 'PromotionRejected')).filter(
      (e) => e.promotion?.promotionId === p.promotionId,
    );
    expect(rejected.map((e) => [e.projectId, e.reason])).toEqual([['p-2', 'No food flyers in the lobby']]);
    // the merchant sees both decisions
    const mine = (
      await merchant.listPromotions({
        tenancy: { operatorId: A, projectId: '', merchantId: 'm-1' },
        status: 0,
        page: undefined,
      })
    ).promotions.find((x) => x.promotionId === p.promotionId);
    expect(mine?.reviews.map((r) => [r.projectId, r.status, r.reason])).toEqual([
      ['p-1', APPROVED, ''],
      ['p-2', REJECTED, 'No food flyers in the lobby'],
    ]);
  });

  it("another operator's project cannot review; a merchant sees only its own; nothing is written", async () => {
    const p = await submit('m-own', ['p-t1']);
    await submit('m-other', ['p-t1']); // another merchant's, never listed for m-own
    const before = await counts();
    // operator B's project staff naming their own project: not a target, not found
    const bStaff = h.clientOf({ projects: ['p-b1'] });
    const notFound = await grpcError(
      bStaff.reviewPromotion({
        requestId: uniqueName('r'),
        tenancy: { operatorId: B, projectId: 'p-b1', merchantId: '' },
        promotionId: p.promotionId,
        decision: APPROVED,
        reason: '',
      }),
    );
    expect([notFound.code, errorCode(notFound)]).toEqual([status.NOT_FOUND, 'PROMOTION_NOT_FOUND']);
    // ... naming operator A's target project: outside their tenancy
    for (const client of [bStaff, h.clientOf({ operators: [B] })]) {
      const denied = await grpcError(
        client.reviewPromotion({
          requestId: uniqueName('r'),
          tenancy: { operatorId: A, projectId: 'p-t1', merchantId: '' },
          promotionId: p.promotionId,
          decision: APPROVED,
          reason: '',
        }),
      );
      expect([denied.code, errorCode(denied)]).toEqual([status.PERMISSION_DENIED, 'TENANCY_FORBIDDEN']);
    }
    // a project of operator A that is no target
    const notTarget = await grpcError(review('p-t2', p.promotionId, APPROVED));
    expect(notTarget.code).toBe(status.NOT_FOUND);
    expect(await counts()).toEqual(before);

    const own = (
      await merchant.listPromotions({
        tenancy: { operatorId: A, projectId: '', merchantId: 'm-own' },
        status: 0,
        page: undefined,
      })
    ).promotions;
    expect(own.map((x) => x.promotionId)).toEqual([p.promotionId]);
    expect(own.map((x) => x.tenancy?.merchantId)).toEqual(['m-own']);
    const foreign = await grpcError(
      h.clientOf({ operators: [B] }).listPromotions({
        tenancy: { operatorId: A, projectId: '', merchantId: 'm-own' },
        status: 0,
        page: undefined,
      }),
    );
    expect(foreign.code).toBe(status.PERMISSION_DENIED);
  });

  it('lists what waits for a project, newest first, in pages; then by status', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) ids.push((await submit(`m-l${i}`, ['p-list'])).promotionId);
    const tenancy = { operatorId: A, projectId: 'p-list', merchantId: '' };
    const first = await staff('p-list').listPromotions({
      tenancy,
      status: 0,
      page: { pageSize: 2, pageToken: '' },
    });
    expect(first.promotions.map((x) => x.promotionId)).toEqual([ids[2], ids[1]]);
    const second = await staff('p-list').listPromotions({
      tenancy,
      status: 0,
      page: { pageSize: 2, pageToken: first.page!.nextPageToken },
    });
    expect([second.promotions.map((x) => x.promotionId), second.page?.nextPageToken]).toEqual([[ids[0]], '']);
    await review('p-list', ids[1]!, APPROVED);
    const pending = await staff('p-list').listPromotions({ tenancy, status: 0, page: undefined });
    expect(pending.promotions.map((x) => x.promotionId)).toEqual([ids[2], ids[0]]);
    const approved = await staff('p-list').listPromotions({ tenancy, status: APPROVED, page: undefined });
    expect(approved.promotions.map((x) => [x.promotionId, x.reviews.map((r) => r.projectId)])).toEqual([
      [ids[1], ['p-list']],
    ]);
  });

  it('feeds residents what is approved and live, newest first; screens at most 10, images first', async () => {
    const feedProject = 'p-feed';
    const live: string[] = [];
    for (let i = 0; i < 12; i++) {
      const p = await submit(`m-f${i}`, [feedProject], i % 3 === 0 ? {} : { imageRefs: [] });
      await review(feedProject, p.promotionId, APPROVED);
      live.push(p.promotionId);
    }
    const future = await submit('m-fx', [feedProject], { validFrom: at(HOUR), validUntil: at(2 * HOUR) });
    await review(feedProject, future.promotionId, APPROVED);
    const rejected = await submit('m-fy', [feedProject]);
    await review(feedProject, rejected.promotionId, REJECTED, 'no');
    await submit('m-fz', [feedProject]); // pending
    const resident = h.clientOf({ projects: [feedProject] }, ['marketing:feed']);
    const tenancy = { operatorId: A, projectId: feedProject, merchantId: '' };

    const seen: string[] = [];
    let pageToken = '';
    do {
      const page = await resident.getProjectFeed({
        tenancy,
        kind: FeedKind.FEED_KIND_RESIDENTS,
        page: { pageSize: 5, pageToken },
      });
      expect(page.items.every((i) => i.impressionToken !== '')).toBe(true);
      seen.push(...page.items.map((i) => i.promotion!.promotionId));
      pageToken = page.page!.nextPageToken;
    } while (pageToken !== '');
    expect(seen).toEqual([...live].reverse());

    const screen = await resident.getProjectFeed({
      tenancy,
      kind: FeedKind.FEED_KIND_SCREEN,
      page: undefined,
    });
    const withImages = live.filter((_, i) => i % 3 === 0).reverse();
    const without = live.filter((_, i) => i % 3 !== 0).reverse();
    expect(screen.items.map((i) => i.promotion!.promotionId)).toEqual(
      [...withImages, ...without].slice(0, 10),
    );
    const foreign = await grpcError(
      h
        .clientOf({ projects: ['p-elsewhere'] })
        .getProjectFeed({ tenancy, kind: FeedKind.FEED_KIND_RESIDENTS, page: undefined }),
    );
    expect(foreign.code).toBe(status.PERMISSION_DENIED);
  });

  it('places an approved promotion in a slot; interactions count once, also in parallel', async () => {
    const p = await submit('m-stats', ['p-host', 'p-s2']);
    const placementReq = {
      requestId: uniqueName('r'),
      placement: {
        placementId: '',
        tenancy: { operatorId: A, projectId: 'p-host', merchantId: '' },
        slot: 'parking.receipt',
        promotionId: p.promotionId,
        validFrom: at(0),
        validUntil: at(HOUR),
      },
    };
    const notYet = await grpcError(staff('p-host').createPlacement(placementReq));
    expect([notYet.code, errorCode(notYet)]).toEqual([status.FAILED_PRECONDITION, 'PROMOTION_NOT_APPROVED']);
    await review('p-host', p.promotionId, APPROVED);
    await review('p-s2', p.promotionId, APPROVED);
    const placement = (await staff('p-host').createPlacement(placementReq)).placement!;
    expect(placement).toMatchObject({ slot: 'parking.receipt', promotionId: p.promotionId });
    expect((await staff('p-host').createPlacement(placementReq)).placement).toEqual(placement);

    const app = h.clientOf({ operators: [A] }, ['marketing:feed']);
    const tenancy = { operatorId: A, projectId: '', merchantId: '' };
    const interaction = (id: string, kind: InteractionKind, projectId = 'p-host', placementId = '') => ({
      interactionId: id,
      promotionId: p.promotionId,
      placementId,
      projectId,
      kind,
      occurredAt: at(0),
    });
    const { INTERACTION_KIND_IMPRESSION: IMP, INTERACTION_KIND_CLICK: CLICK } = InteractionKind;
    // duplicates inside one batch count once
    const first = await app.recordInteractions({
      tenancy,
      interactions: [
        interaction('i-1', IMP),
        interaction('i-1', IMP),
        interaction('i-2', CLICK),
        interaction('i-3', IMP, 'p-host', placement.placementId),
        interaction('i-4', IMP, 'p-s2'),
        // a placement that does not host it in that project: ignored
        interaction('i-5', IMP, 'p-s2', placement.placementId),
      ],
    });
    expect(first.recorded).toBe(4);
    // the same 1,000 interactions from 8 clients at once: each counted once
    const batch = Array.from({ length: 1000 }, (_, i) =>
      interaction(`j-${i}`, i % 4 === 0 ? CLICK : IMP, 'p-host', i % 2 === 0 ? placement.placementId : ''),
    );
    const recorded = await Promise.all(
      Array.from({ length: 8 }, (_, k) =>
        app.recordInteractions({ tenancy, interactions: k % 2 === 0 ? batch : [...batch].reverse() }),
      ),
    );
    expect(recorded.reduce((s, r) => s + r.recorded, 0)).toBe(1000);
    const { stats } = await merchant.getPromotionStats({
      tenancy: { operatorId: A, projectId: '', merchantId: 'm-stats' },
      promotionId: p.promotionId,
    });
    // j-*: even i on the placement (i % 4 == 0 clicks: 250; impressions 250), odd i in the feed (500 impressions)
    expect(stats).toEqual([
      { projectId: 'p-host', placementId: '', impressions: 501n, clicks: 1n },
      { projectId: 'p-host', placementId: placement.placementId, impressions: 251n, clicks: 250n },
      { projectId: 'p-s2', placementId: '', impressions: 1n, clicks: 0n },
    ]);
    const { rows } = await h.pool.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM interactions WHERE promotion_id = $1',
      [p.promotionId],
    );
    expect(rows[0]?.n).toBe(1004);
    // a project sees its own counts; another merchant nothing
    const own = await staff('p-s2').getPromotionStats({
      tenancy: { operatorId: A, projectId: 'p-s2', merchantId: '' },
      promotionId: p.promotionId,
    });
    expect(own.stats.map((s) => s.projectId)).toEqual(['p-s2']);
    const stranger = await grpcError(
      merchant.getPromotionStats({
        tenancy: { operatorId: A, projectId: '', merchantId: 'm-other' },
        promotionId: p.promotionId,
      }),
    );
    expect(stranger.code).toBe(status.NOT_FOUND);
    const tooMany = await grpcError(
      app.recordInteractions({ tenancy, interactions: [...batch, interaction('k-1', IMP)] }),
    );
    expect([tooMany.code, errorField(tooMany)]).toEqual([status.INVALID_ARGUMENT, 'interactions']);
    const foreignProject = await grpcError(
      h
        .clientOf({ projects: ['p-host'] }, ['marketing:feed'])
        .recordInteractions({ tenancy, interactions: [interaction('k-2', IMP, 'p-s2')] }),
    );
    expect(foreignProject.code).toBe(status.PERMISSION_DENIED);
  });
});
