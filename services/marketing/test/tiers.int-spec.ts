import { Kafka, logLevel, Producer } from 'kafkajs';
import { toTimestamp } from '@citybase/platform';
import { publishEvent, testEndpoints, uniqueName, waitFor } from '@citybase/platform/testing';
import type { TierChanged } from '@citybase/contracts/citybase/points/v1/events';
import { PointsEvents } from '@citybase/contracts/events';
import { checkMarketingInvariants } from './invariants';
import {
  activeCampaign,
  CLAIM_SCOPES,
  errorCode,
  grpcError,
  MarketingClient,
  MarketingHarness,
  startMarketingHarness,
  status,
  tenancy,
} from './marketing-harness';

const A = 'op-tiers';

describe("marketing: tier targeting from points' TierChanged (consumer marketing.tiers)", () => {
  let h: MarketingHarness;
  let producer: Producer;
  let opA: MarketingClient;
  let appA: MarketingClient;

  beforeAll(async () => {
    h = await startMarketingHarness('tiers');
    producer = new Kafka({
      clientId: uniqueName('fake-points'),
      brokers: testEndpoints.kafkaBrokers(),
      logLevel: logLevel.NOTHING,
    }).producer({ allowAutoTopicCreation: false });
    await producer.connect();
    h.onStop(() => producer.disconnect());
    opA = h.clientOf({ operators: [A] });
    appA = h.clientOf({ operators: [A] }, CLAIM_SCOPES);
  });

  afterEach(async () => {
    expect(await checkMarketingInvariants(h.pool)).toEqual([]);
  });

  afterAll(async () => {
    await h?.stop();
  });

  /** Publishes TierChanged as points would and waits until the consumer applied it. */
  const tierChanged = async (holderId: string, toTier: string, at: Date, eventId?: string) => {
    const event: TierChanged = {
      tenancy: tenancy(A),
      holderId,
      fromTier: '',
      toTier,
      occurredAt: toTimestamp(at),
    };
    const id = await publishEvent(
      producer,
      { service: 'points', topicPrefix: h.topicPrefix },
      PointsEvents.TierChanged,
      event,
      {
        key: holderId,
        tenancy: { operatorId: A },
        eventId,
      },
    );
    await waitFor(
      `event ${id} in the marketing.tiers inbox`,
      async () =>
        (await h.pool.query(`SELECT 1 FROM inbox WHERE consumer = 'marketing.tiers' AND event_id = $1`, [id]))
          .rowCount === 1
          ? true
          : undefined,
      60_000,
      50,
    );
    return id;
  };

  const tierOf = async (holderId: string) =>
    (
      await h.pool.query<{ tier: string }>(
        'SELECT tier FROM holder_tiers WHERE operator_id = $1 AND holder_id = $2',
        [A, holderId],
      )
    ).rows[0]?.tier;

  it('lets only the targeted tiers claim; an older event does not undo a newer one; a redelivery applies once', async () => {
    const now = Date.now();
    const id = await tierChanged('u-gold', 'Gold', new Date(now));
    await tierChanged('u-silver', 'Silver', new Date(now));
    // older than what the projection has: ignored
    await tierChanged('u-gold', 'Bronze', new Date(now - 60_000));
    expect(await tierOf('u-gold')).toBe('Gold');
    // the same event again
    await tierChanged('u-gold', 'Gold', new Date(now), id);
    expect(await tierOf('u-gold')).toBe('Gold');

    const c = await activeCampaign(opA, A, {
      targeting: { projectIds: [], merchantIds: [], scenarios: [], tiers: ['Gold'] },
    });
    const claim = (userId: string) =>
      appA.claimCoupon({
        requestId: uniqueName('cl'),
        tenancy: tenancy(A),
        campaignId: c.campaignId,
        code: '',
        userId,
        householdId: '',
      });
    expect((await claim('u-gold')).coupon?.userId).toBe('u-gold');
    for (const userId of ['u-silver', 'u-unknown']) {
      const err = await grpcError(claim(userId));
      expect([err.code, errorCode(err)]).toEqual([status.FAILED_PRECONDITION, 'NOT_TARGETED']);
    }
    // promoted: now it may
    await tierChanged('u-silver', 'Gold', new Date(now + 1_000));
    expect((await claim('u-silver')).coupon?.userId).toBe('u-silver');
  });
});
