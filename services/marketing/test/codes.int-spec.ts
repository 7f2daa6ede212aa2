import { uniqueName } from '@citybase/platform/testing';
import { CodeBatchStatus } from '@citybase/contracts/citybase/marketing/v1/marketing';
import { checkMarketingInvariants } from './invariants';
import {
  activeCampaign,
  errorCode,
  grpcError,
  MarketingClient,
  MarketingHarness,
  startMarketingHarness,
  status,
  tenancy,
} from './marketing-harness';

const A = 'op-codes-a';

describe('marketing: codes (in-process service)', () => {
  let h: MarketingHarness;
  let opA: MarketingClient;

  beforeAll(async () => {
    h = await startMarketingHarness('codes', {
      MARKETING_CODES_INTERVAL_MS: '100',
      MARKETING_CODES_CHUNK: '5000',
    });
    opA = h.clientOf({ operators: [A] });
  });

  afterEach(async () => {
    expect(await checkMarketingInvariants(h.pool)).toEqual([]);
  });

  afterAll(async () => {
    await h?.stop();
  });

  it('generates 100,000 unique codes as a job with progress, and exports them in pages of 10,000', async () => {
    const c = await activeCampaign(opA, A, { maxCoupons: 150_000n });
    const requestId = uniqueName('g');
    const batch = (
      await opA.generateCodes({ requestId, tenancy: tenancy(A), campaignId: c.campaignId, count: 100_000n })
    ).batch!;
    expect(batch).toMatchObject({ status: CodeBatchStatus.CODE_BATCH_STATUS_RUNNING, requested: 100_000n });
    // progress is seen between the chunks, never beyond what was requested
    const seen = new Set<bigint>();
    for (;;) {
      const now = (await opA.getCodeBatch({ tenancy: tenancy(A), batchId: batch.batchId })).batch!;
      seen.add(now.generated);
      expect(now.generated).toBeLessThanOrEqual(100_000n);
      if (now.status === CodeBatchStatus.CODE_BATCH_STATUS_DONE) {
        expect([now.generated, now.finishedAt]).toEqual([100_000n, expect.anything()]);
        break;
      }
      await new Promise((r) => setTimeout(r, 20));
    }
    for (const g of seen) expect(g % 5_000n).toBe(0n);
    // a repeat answers the same batch
    expect(
      (await opA.generateCodes({ requestId, tenancy: tenancy(A), campaignId: c.campaignId, count: 100_000n }))
        .batch?.batchId,
    ).toBe(batch.batchId);
    const codes: string[] = [];
    let pageToken = '';
    let pages = 0;
    do {
      const page = await opA.exportCodes({
        tenancy: tenancy(A),
        batchId: batch.batchId,
        page: { pageSize: 10_000, pageToken },
      });
      codes.push(...page.codes.map((x) => x.code));
      pageToken = page.page?.nextPageToken ?? '';
      pages++;
    } while (pageToken !== '');
    expect([codes.length, new Set(codes).size, pages]).toEqual([100_000, 100_000, 10]);
    for (const code of codes) expect(code).toMatch(/^[0-9A-HJKMNP-TV-Z]{16}$/);
    const { rows } = await h.pool.query<{ n: bigint }>(
      'SELECT count(*) AS n FROM codes WHERE batch_id = $1',
      [batch.batchId],
    );
    expect(rows[0]?.n).toBe(100_000n);
  });

  it('never asks for more codes than the count budget, counting every batch', async () => {
    const c = await activeCampaign(opA, A, { maxCoupons: 10n });
    await opA.generateCodes({
      requestId: uniqueName('g'),
      tenancy: tenancy(A),
      campaignId: c.campaignId,
      count: 7n,
    });
    const err = await grpcError(
      opA.generateCodes({
        requestId: uniqueName('g'),
        tenancy: tenancy(A),
        campaignId: c.campaignId,
        count: 4n,
      }),
    );
    expect([err.code, errorCode(err)]).toEqual([status.FAILED_PRECONDITION, 'CODES_BEYOND_BUDGET']);
    expect(
      (
        await opA.generateCodes({
          requestId: uniqueName('g'),
          tenancy: tenancy(A),
          campaignId: c.campaignId,
          count: 3n,
        })
      ).batch?.requested,
    ).toBe(3n);
    const missing = await grpcError(opA.getCodeBatch({ tenancy: tenancy(A), batchId: c.campaignId }));
    expect([missing.code, errorCode(missing)]).toEqual([status.NOT_FOUND, 'CODE_BATCH_NOT_FOUND']);
  });
});
