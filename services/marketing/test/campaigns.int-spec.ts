import { toTimestamp } from '@citybase/platform';
import { uniqueName } from '@citybase/platform/testing';
import { Campaign, CampaignStatus } from '@citybase/contracts/citybase/marketing/v1/marketing';
import type { PaymentScenario } from '@citybase/contracts/citybase/payment/v1/payment';
import { checkMarketingInvariants } from './invariants';
import {
  activeCampaign,
  campaignSpec,
  CLAIM_SCOPES,
  errorCode,
  errorField,
  grpcError,
  MarketingClient,
  MarketingHarness,
  rowCounts,
  startMarketingHarness,
  status,
  tenancy,
} from './marketing-harness';

const A = 'op-camp-a';
const B = 'op-camp-b';
const P = 'proj-camp-1';

describe('marketing: campaigns (in-process service)', () => {
  let h: MarketingHarness;
  let opA: MarketingClient;
  let opB: MarketingClient;

  beforeAll(async () => {
    h = await startMarketingHarness('campaigns');
    opA = h.clientOf({ operators: [A] });
    opB = h.clientOf({ operators: [B] });
  });

  afterEach(async () => {
    expect(await checkMarketingInvariants(h.pool)).toEqual([]);
  });

  afterAll(async () => {
    await h?.stop();
  });

  const update = (
    client: MarketingClient,
    c: Campaign,
    over: {
      status?: CampaignStatus;
      maxCoupons?: bigint;
      maxSpend?: bigint;
      claimUntil?: Date;
      requestId?: string;
    },
  ) =>
    client.updateCampaign({
      requestId: over.requestId ?? uniqueName('u'),
      tenancy: tenancy(c.tenancy!.operatorId),
      campaignId: c.campaignId,
      status: over.status ?? CampaignStatus.CAMPAIGN_STATUS_UNSPECIFIED,
      maxCoupons: over.maxCoupons ?? 0n,
      maxSpend: over.maxSpend === undefined ? undefined : { currency: 'CNY', amountMinor: over.maxSpend },
      claimUntil: over.claimUntil && toTimestamp(over.claimUntil),
    });

  it('creates a campaign in DRAFT; a repeat answers it as it is now; another body with its id is refused', async () => {
    const req = {
      requestId: uniqueName('c'),
      campaign: campaignSpec(A, { genericCode: `GEN${Date.now()}` }),
    };
    const created = (await opA.createCampaign(req)).campaign!;
    expect(created).toMatchObject({
      status: CampaignStatus.CAMPAIGN_STATUS_DRAFT,
      name: 'Autumn coffee',
      maxCoupons: 100n,
      claimed: 0n,
      claimedValue: { currency: 'CNY', amountMinor: 0n },
      tenancy: tenancy(A),
    });
    expect((await opA.getCampaign({ tenancy: tenancy(A), campaignId: created.campaignId })).campaign).toEqual(
      created,
    );
    await update(opA, created, { status: CampaignStatus.CAMPAIGN_STATUS_ACTIVE });
    expect((await opA.createCampaign(req)).campaign?.status).toBe(CampaignStatus.CAMPAIGN_STATUS_ACTIVE);
    const err = await grpcError(opA.createCampaign({ ...req, campaign: campaignSpec(A, { name: 'Other' }) }));
    expect([err.code, errorCode(err)]).toEqual([status.ALREADY_EXISTS, 'REQUEST_ID_REUSED']);
    // the generic code is the operator's: taken
    const taken = await grpcError(
      opA.createCampaign({
        requestId: uniqueName('c'),
        campaign: campaignSpec(A, { genericCode: req.campaign.genericCode }),
      }),
    );
    expect([taken.code, errorCode(taken), errorField(taken)]).toEqual([
      status.ALREADY_EXISTS,
      'GENERIC_CODE_TAKEN',
      'campaign.generic_code',
    ]);
  });

  it('moves DRAFT > ACTIVE <> PAUSED > ENDED and refuses other moves', async () => {
    const created = (await opA.createCampaign({ requestId: uniqueName('c'), campaign: campaignSpec(A) }))
      .campaign!;
    const bad = await grpcError(update(opA, created, { status: CampaignStatus.CAMPAIGN_STATUS_PAUSED }));
    expect([bad.code, errorCode(bad)]).toEqual([status.FAILED_PRECONDITION, 'CAMPAIGN_STATUS_MOVE']);
    for (const s of [
      CampaignStatus.CAMPAIGN_STATUS_ACTIVE,
      CampaignStatus.CAMPAIGN_STATUS_PAUSED,
      CampaignStatus.CAMPAIGN_STATUS_ACTIVE,
      CampaignStatus.CAMPAIGN_STATUS_ENDED,
    ])
      expect((await update(opA, created, { status: s })).campaign?.status).toBe(s);
    for (const s of [CampaignStatus.CAMPAIGN_STATUS_ACTIVE, CampaignStatus.CAMPAIGN_STATUS_DRAFT]) {
      const err = await grpcError(update(opA, created, { status: s }));
      expect([err.code, errorCode(err)]).toEqual([status.FAILED_PRECONDITION, 'CAMPAIGN_STATUS_MOVE']);
    }
    const ended = await grpcError(update(opA, created, { maxCoupons: 500n }));
    expect(errorCode(ended)).toBe('CAMPAIGN_ENDED');
  });

  it('never lowers a budget below what is claimed; raises and extends', async () => {
    const c = await activeCampaign(opA, A, {
      maxCoupons: 10n,
      maxSpend: { currency: 'CNY', amountMinor: 10_000n },
    });
    const app = h.clientOf({ operators: [A] }, CLAIM_SCOPES);
    for (const u of ['u1', 'u2', 'u3'])
      await app.claimCoupon({
        requestId: uniqueName('cl'),
        tenancy: tenancy(A),
        campaignId: c.campaignId,
        code: '',
        userId: u,
        householdId: '',
      });
    for (const over of [{ maxCoupons: 2n }, { maxSpend: 2_999n }]) {
      const err = await grpcError(update(opA, c, over));
      expect([err.code, errorCode(err)]).toEqual([status.FAILED_PRECONDITION, 'BUDGET_BELOW_CLAIMED']);
    }
    const until = new Date(Date.now() + 48 * 3_600_000);
    const changed = (await update(opA, c, { maxCoupons: 3n, maxSpend: 3_000n, claimUntil: until })).campaign!;
    expect([changed.maxCoupons, changed.maxSpend?.amountMinor, changed.claimed, changed.claimUntil]).toEqual([
      3n,
      3_000n,
      3n,
      toTimestamp(until),
    ]);
    const earlier = await grpcError(update(opA, c, { claimUntil: new Date(Date.now()) }));
    expect([earlier.code, errorField(earlier)]).toEqual([status.INVALID_ARGUMENT, 'claim_until']);
  });

  it("lists an operator's campaigns newest first in pages, by status", async () => {
    const op = 'op-camp-list';
    const client = h.clientOf({ operators: [op] });
    const made: string[] = [];
    for (let i = 0; i < 5; i++)
      made.push(
        (
          await client.createCampaign({
            requestId: uniqueName('c'),
            campaign: campaignSpec(op, { name: `c${i}` }),
          })
        ).campaign!.campaignId,
      );
    await update(client, { campaignId: made[0]!, tenancy: tenancy(op) } as Campaign, {
      status: CampaignStatus.CAMPAIGN_STATUS_ACTIVE,
    });
    const seen: string[] = [];
    let pageToken = '';
    do {
      const page = await client.listCampaigns({
        tenancy: tenancy(op),
        status: 0,
        page: { pageSize: 2, pageToken },
      });
      expect(page.campaigns.length).toBeLessThanOrEqual(2);
      seen.push(...page.campaigns.map((c) => c.campaignId));
      pageToken = page.page?.nextPageToken ?? '';
    } while (pageToken !== '');
    expect(seen).toEqual([...made].reverse());
    const active = await client.listCampaigns({
      tenancy: tenancy(op),
      status: CampaignStatus.CAMPAIGN_STATUS_ACTIVE,
      page: undefined,
    });
    expect(active.campaigns.map((c) => c.campaignId)).toEqual([made[0]]);
  });

  it("keeps tenants apart: another operator's request is PERMISSION_DENIED, its campaign NOT_FOUND; nothing written", async () => {
    const c = await activeCampaign(opA, A);
    const projectCampaign = (
      await opA.createCampaign({
        requestId: uniqueName('c'),
        campaign: campaignSpec(A, { tenancy: tenancy(A, P) }),
      })
    ).campaign!;
    const before = await rowCounts(h.pool, ['campaigns', 'code_batches']);
    for (const call of [
      () => opB.getCampaign({ tenancy: tenancy(A), campaignId: c.campaignId }),
      () => opB.createCampaign({ requestId: uniqueName('c'), campaign: campaignSpec(A) }),
      () => update(opB, c, { status: CampaignStatus.CAMPAIGN_STATUS_PAUSED }),
      () => opB.listCampaigns({ tenancy: tenancy(A), status: 0, page: undefined }),
      () =>
        opB.generateCodes({
          requestId: uniqueName('g'),
          tenancy: tenancy(A),
          campaignId: c.campaignId,
          count: 1n,
        }),
      // a project's client is not its operator
      () => h.clientOf({ projects: [P] }).getCampaign({ tenancy: tenancy(A), campaignId: c.campaignId }),
    ]) {
      const err = await grpcError(call());
      expect([err.code, errorCode(err)]).toEqual([status.PERMISSION_DENIED, 'TENANCY_FORBIDDEN']);
    }
    for (const call of [
      () => opB.getCampaign({ tenancy: tenancy(B), campaignId: c.campaignId }),
      () => update(opB, { ...c, tenancy: tenancy(B) }, { status: CampaignStatus.CAMPAIGN_STATUS_PAUSED }),
      () =>
        opB.generateCodes({
          requestId: uniqueName('g'),
          tenancy: tenancy(B),
          campaignId: c.campaignId,
          count: 1n,
        }),
    ]) {
      const err = await grpcError(call());
      expect([err.code, errorCode(err)]).toEqual([status.NOT_FOUND, 'CAMPAIGN_NOT_FOUND']);
    }
    expect(await rowCounts(h.pool, ['campaigns', 'code_batches'])).toEqual(before);
    // a project's client sees its project's campaign, not the operator's own
    const proj = h.clientOf({ projects: [P] });
    expect(
      (await proj.getCampaign({ tenancy: tenancy(A, P), campaignId: projectCampaign.campaignId })).campaign
        ?.name,
    ).toBe('Autumn coffee');
    const hidden = await grpcError(proj.getCampaign({ tenancy: tenancy(A, P), campaignId: c.campaignId }));
    expect(errorCode(hidden)).toBe('CAMPAIGN_NOT_FOUND');
  });

  it('validates requests, naming the field', async () => {
    const create = (over: Partial<Campaign>) => () =>
      opA.createCampaign({ requestId: uniqueName('c'), campaign: campaignSpec(A, over) });
    const now = Date.now();
    const money = (amountMinor: bigint, currency = 'CNY') => ({ currency, amountMinor });
    const c = await activeCampaign(opA, A);
    // thunks: a call made only when its turn comes, so no rejection waits unhandled
    const cases: [() => Promise<unknown>, string][] = [
      [() => opA.createCampaign({ requestId: '', campaign: campaignSpec(A) }), 'request_id'],
      [() => opA.createCampaign({ requestId: 'r', campaign: undefined }), 'campaign'],
      [create({ tenancy: tenancy('') }), 'campaign.tenancy.operator_id'],
      [create({ tenancy: tenancy('op a') }), 'campaign.tenancy.operator_id'],
      [create({ name: '' }), 'campaign.name'],
      [create({ name: 'x'.repeat(81) }), 'campaign.name'],
      [create({ discount: undefined }), 'campaign.discount'],
      [
        create({ discount: { kind: { $case: 'amountOff', value: money(0n) } } }),
        'campaign.discount.amount_off.amount_minor',
      ],
      [
        create({ discount: { kind: { $case: 'amountOff', value: money(1n, 'cny') } } }),
        'campaign.discount.amount_off.currency',
      ],
      [
        create({ discount: { kind: { $case: 'percentOff', value: { basisPoints: 0, cap: money(100n) } } } }),
        'campaign.discount.percent_off.basis_points',
      ],
      [
        create({
          discount: { kind: { $case: 'percentOff', value: { basisPoints: 10_001, cap: money(100n) } } },
        }),
        'campaign.discount.percent_off.basis_points',
      ],
      [
        create({
          discount: { kind: { $case: 'percentOff', value: { basisPoints: 1000, cap: undefined } } },
          maxSpend: money(1000n),
        }),
        'campaign.discount.percent_off.cap',
      ],
      [
        create({
          discount: { kind: { $case: 'threshold', value: { spend: money(100n), save: money(200n) } } },
        }),
        'campaign.discount.threshold.save.amount_minor',
      ],
      [
        create({ discount: { kind: { $case: 'freeItem', value: { itemCode: '', value: money(100n) } } } }),
        'campaign.discount.free_item.item_code',
      ],
      [create({ funding: 0 }), 'campaign.funding'],
      [create({ funding: 3 }), 'campaign.tenancy.merchant_id'],
      [create({ claimUntil: toTimestamp(new Date(now - 2 * 3_600_000)) }), 'campaign.claim_until'],
      [create({ claimFrom: undefined }), 'campaign.claim_from'],
      [create({ couponValidDays: 0 }), 'campaign.coupon_valid_days'],
      [create({ couponValidDays: 366 }), 'campaign.coupon_valid_days'],
      [create({ maxCoupons: 0n }), 'campaign.max_coupons'],
      [create({ maxSpend: money(100n, 'USD') }), 'campaign.max_spend.currency'],
      [create({ perUserLimit: -1 }), 'campaign.per_user_limit'],
      [create({ perHouseholdLimit: -1 }), 'campaign.per_household_limit'],
      [create({ perUserDailyLimit: -1 }), 'campaign.per_user_daily_limit'],
      [create({ genericCode: 'abc' }), 'campaign.generic_code'],
      [create({ genericCode: 'A'.repeat(33) }), 'campaign.generic_code'],
      [create({ genericCode: 'AB-CD' }), 'campaign.generic_code'],
      [
        create({ stacking: { exclusive: false, group: 'g'.repeat(41), priority: 0 } }),
        'campaign.stacking.group',
      ],
      [
        create({ targeting: { projectIds: ['p 1'], merchantIds: [], scenarios: [], tiers: [] } }),
        'campaign.targeting.project_ids[0]',
      ],
      [
        create({
          targeting: { projectIds: [], merchantIds: [], scenarios: [99 as PaymentScenario], tiers: [] },
        }),
        'campaign.targeting.scenarios[0]',
      ],
      [() => update(opA, c, {}), 'status'],
      [() => update(opA, c, { status: 9 as CampaignStatus }), 'status'],
      [() => update(opA, c, { maxCoupons: -1n }), 'max_coupons'],
      [() => update(opA, { ...c, campaignId: 'nope' }, { maxCoupons: 5n }), 'campaign_id'],
      [() => opA.getCampaign({ tenancy: tenancy(A), campaignId: '' }), 'campaign_id'],
      [
        () => opA.listCampaigns({ tenancy: tenancy(A), status: 0, page: { pageSize: 0, pageToken: 'x' } }),
        'page.page_token',
      ],
      [
        () => opA.generateCodes({ requestId: 'r', tenancy: tenancy(A), campaignId: c.campaignId, count: 0n }),
        'count',
      ],
      [
        () =>
          opA.generateCodes({
            requestId: 'r',
            tenancy: tenancy(A),
            campaignId: c.campaignId,
            count: 100_001n,
          }),
        'count',
      ],
      [
        () =>
          opA.exportCodes({
            tenancy: tenancy(A),
            batchId: c.campaignId,
            page: { pageSize: 10_001, pageToken: '' },
          }),
        'page.page_size',
      ],
    ];
    const before = await rowCounts(h.pool, ['campaigns', 'code_batches', 'idempotency_keys']);
    for (const [call, field] of cases) {
      const err = await grpcError(call());
      expect([field, err.code, errorField(err)]).toEqual([field, status.INVALID_ARGUMENT, field]);
    }
    expect(await rowCounts(h.pool, ['campaigns', 'code_batches', 'idempotency_keys'])).toEqual(before);
  });
});
