import { toTimestamp } from '@citybase/platform';
import { domainErrorOf, expectInvalid } from '@citybase/platform/testing';
import {
  FeedKind,
  InteractionKind,
  PromotionStatus,
} from '@citybase/contracts/citybase/marketing/v1/marketing';
import {
  decideReview,
  isImageRef,
  PROMOTIONS_PAGE,
  toListPromotionsQuery,
  toProjectFeedQuery,
  toRecordInteractionsCommand,
  toReviewPromotionCommand,
  toSubmitPromotionCommand,
} from './promotions.domain';

const NOW = new Date('2026-12-06T03:00:00Z');
const ts = (iso: string) => toTimestamp(new Date(iso));
const submit = (over: Record<string, unknown> = {}) => ({
  requestId: 'r-1',
  promotion: {
    tenancy: { operatorId: 'op-1', projectId: '', merchantId: 'm-1' },
    title: ' Noodles ',
    body: 'Hand-pulled',
    imageRefs: ['https://img.example/a.jpg'],
    campaignId: '',
    validFrom: ts('2026-12-06T00:00:00Z'),
    validUntil: ts('2026-12-07T00:00:00Z'),
    reviews: [{ projectId: 'p-1' }, { projectId: 'p-2' }],
    ...over,
  },
});

describe('promotion requests', () => {
  it('validates SubmitPromotion into a command, naming the field it refuses', () => {
    expect(toSubmitPromotionCommand(submit())).toEqual({
      requestId: 'r-1',
      operatorId: 'op-1',
      projectId: '',
      merchantId: 'm-1',
      title: 'Noodles',
      body: 'Hand-pulled',
      imageRefs: ['https://img.example/a.jpg'],
      campaignId: '',
      validFrom: new Date('2026-12-06T00:00:00Z'),
      validUntil: new Date('2026-12-07T00:00:00Z'),
      targets: ['p-1', 'p-2'],
    });
    const cases: [Record<string, unknown>, string][] = [
      [{ tenancy: { operatorId: 'op-1' } }, 'promotion.tenancy.merchant_id'],
      [{ tenancy: { merchantId: 'm-1' } }, 'promotion.tenancy.operator_id'],
      [{ title: '   ' }, 'promotion.title'],
      [{ title: '面'.repeat(81) }, 'promotion.title'],
      [{ body: 'b'.repeat(2001) }, 'promotion.body'],
      [{ imageRefs: Array(10).fill('a.png') }, 'promotion.image_refs'],
      [{ imageRefs: ['ftp://x/a.png'] }, 'promotion.image_refs[0]'],
      [{ campaignId: 'not-a-uuid' }, 'promotion.campaign_id'],
      [{ validUntil: ts('2026-12-06T00:00:00Z') }, 'promotion.valid_until'],
      [{ validUntil: undefined }, 'promotion.valid_until'],
      [{ reviews: [] }, 'promotion.reviews'],
      [{ reviews: [{ projectId: 'p 1' }] }, 'promotion.reviews[0].project_id'],
      [{ reviews: [{ projectId: 'p-1' }, { projectId: 'p-1' }] }, 'promotion.reviews[1].project_id'],
    ];
    for (const [over, field] of cases) expectInvalid(() => toSubmitPromotionCommand(submit(over)), field);
    // 80 characters of CJK count as 80 (code points, as char_length)
    expect(toSubmitPromotionCommand(submit({ title: '面'.repeat(80) })).title).toHaveLength(80);
    expectInvalid(() => toSubmitPromotionCommand({ requestId: 'r-1' }), 'promotion');
  });

  it('takes https URLs and object keys as image refs, nothing else', () => {
    for (const ok of ['https://img.example/a.jpg', 'merchants/m-1/a.png', 'a.png'])
      expect([ok, isImageRef(ok)]).toEqual([ok, true]);
    for (const bad of [
      'http://img.example/a.jpg',
      'https://u:p@img.example/a',
      '/abs/a.png',
      'a/../b',
      'a//b',
      'x y',
      '',
    ])
      expect([bad, isImageRef(bad)]).toEqual([bad, false]);
  });

  it('validates ReviewPromotion: APPROVED or REJECTED, a reason exactly when rejecting', () => {
    const base = {
      requestId: 'r-1',
      tenancy: { operatorId: 'op-1', projectId: 'p-1' },
      promotionId: '6c1a4d3e-1111-4222-8333-444455556666',
      decision: PromotionStatus.PROMOTION_STATUS_REJECTED,
      reason: 'No flyers',
    };
    expect(toReviewPromotionCommand(base)).toMatchObject({ decision: 'REJECTED', reason: 'No flyers' });
    expectInvalid(() => toReviewPromotionCommand({ ...base, reason: '' }), 'reason');
    expectInvalid(() => toReviewPromotionCommand({ ...base, reason: 'r'.repeat(201) }), 'reason');
    expectInvalid(
      () => toReviewPromotionCommand({ ...base, decision: PromotionStatus.PROMOTION_STATUS_APPROVED }),
      'reason',
    );
    expectInvalid(
      () => toReviewPromotionCommand({ ...base, decision: PromotionStatus.PROMOTION_STATUS_PENDING }),
      'decision',
    );
    expectInvalid(
      () => toReviewPromotionCommand({ ...base, tenancy: { operatorId: 'op-1' } }),
      'tenancy.project_id',
    );
  });

  it('ends a review once', () => {
    expect(decideReview('PENDING', 'APPROVED')).toBe('decide');
    expect(decideReview('APPROVED', 'APPROVED')).toBe('unchanged');
    expect(decideReview('APPROVED', 'REJECTED')).toBe('refuse');
    expect(decideReview('REJECTED', 'APPROVED')).toBe('refuse');
  });

  it('lists for a project (PENDING by default) or a merchant (every status); reads its own page tokens', () => {
    expect(toListPromotionsQuery({ tenancy: { operatorId: 'op-1', projectId: 'p-1' } })).toMatchObject({
      status: 'PENDING',
      merchantId: '',
    });
    expect(toListPromotionsQuery({ tenancy: { operatorId: 'op-1', merchantId: 'm-1' } })).toMatchObject({
      status: '',
      merchantId: 'm-1',
    });
    expectInvalid(() => toListPromotionsQuery({ tenancy: { operatorId: 'op-1' } }), 'tenancy.project_id');
    const token = PROMOTIONS_PAGE.encode([
      '2026-12-06T00:00:00.000000Z',
      '6c1a4d3e-1111-4222-8333-444455556666',
    ]);
    expect(
      toListPromotionsQuery({ tenancy: { operatorId: 'op-1', projectId: 'p-1' }, page: { pageToken: token } })
        .after,
    ).toEqual({
      createdAt: '2026-12-06T00:00:00.000000Z',
      promotionId: '6c1a4d3e-1111-4222-8333-444455556666',
    });
    expectInvalid(
      () =>
        toProjectFeedQuery({
          tenancy: { operatorId: 'op-1', projectId: 'p-1' },
          kind: FeedKind.FEED_KIND_RESIDENTS,
          page: { pageToken: token },
        }),
      'page.page_token',
    );
  });

  it('validates interactions: at most 1,000, the tenancy project only, occurred_at defaulting to now', () => {
    const one = {
      interactionId: 'i-1',
      promotionId: '6c1a4d3e-1111-4222-8333-444455556666',
      placementId: '',
      projectId: 'p-1',
      kind: InteractionKind.INTERACTION_KIND_CLICK,
      occurredAt: undefined,
    };
    expect(
      toRecordInteractionsCommand({ tenancy: { operatorId: 'op-1' }, interactions: [one] }, NOW),
    ).toEqual({
      operatorId: 'op-1',
      projectId: '',
      interactions: [{ ...one, kind: 'CLICK', occurredAt: NOW }],
    });
    expectInvalid(
      () => toRecordInteractionsCommand({ tenancy: { operatorId: 'op-1' }, interactions: [] }, NOW),
      'interactions',
    );
    expectInvalid(
      () =>
        toRecordInteractionsCommand(
          { tenancy: { operatorId: 'op-1' }, interactions: Array(1001).fill(one) },
          NOW,
        ),
      'interactions',
    );
    expectInvalid(
      () =>
        toRecordInteractionsCommand(
          { tenancy: { operatorId: 'op-1', projectId: 'p-2' }, interactions: [one] },
          NOW,
        ),
      'interactions[0].project_id',
    );
    expectInvalid(
      () =>
        toRecordInteractionsCommand(
          { tenancy: { operatorId: 'op-1' }, interactions: [{ ...one, kind: 0 }] },
          NOW,
        ),
      'interactions[0].kind',
    );
    expect(domainErrorOf(() => toRecordInteractionsCommand({ interactions: [one] }, NOW)).detail.field).toBe(
      'tenancy.operator_id',
    );
  });
});
