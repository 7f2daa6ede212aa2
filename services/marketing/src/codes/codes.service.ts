import { Inject, Injectable } from '@nestjs/common';
import {
  assertTenancy,
  CitybaseClaims,
  Logger,
  LOGGER,
  Mutations,
  OUTBOX,
  pageOf,
  PG_POOL,
  Pool,
  PoolClient,
  SERVICE_CONFIG,
  toTimestamp,
  withTransaction,
} from '@citybase/platform';
import type { Outbox } from '@citybase/platform';
import { MarketingEvents } from '@citybase/contracts/events';
import { campaignTenancy, requestTenancy, visibleThrough } from '../campaigns/campaigns.service';
import { findCampaign, lockCampaign } from '../campaigns/campaigns.store';
import { CampaignsErrors } from '../campaigns/campaigns.errors';
import type { MarketingConfig } from '../config';
import { CODES_PAGE, CodeBatchQuery, ExportCodesQuery, GenerateCodesCommand, newCodes } from './codes.domain';
import { CodesErrors } from './codes.errors';
import { batchToProto } from './codes.render';
import {
  addGenerated,
  CodeBatchRow,
  findBatch,
  insertBatch,
  insertCodes,
  leaseRunningBatch,
  listCodes,
  requestedCodes,
} from './codes.store';

/**
 * Codes (docs/marketing.md "Codes"): GenerateCodes records a RUNNING batch (never beyond the
 * campaign's max_coupons, counting every batch); the code job (codes.job.ts) fills it in chunks,
 * one transaction each, so GetCodeBatch shows progress; CodesGenerated when it is done.
 */
@Injectable()
export class CodesService {
  constructor(
    @Inject(PG_POOL) private readonly pool: Pool,
    @Inject(OUTBOX) private readonly outbox: Outbox,
    @Inject(LOGGER) private readonly logger: Logger,
    @Inject(SERVICE_CONFIG) private readonly config: MarketingConfig,
    private readonly mutations: Mutations,
  ) {}

  async generateCodes(claims: CitybaseClaims, cmd: GenerateCodesCommand): Promise<CodeBatchRow> {
    assertTenancy(claims, requestTenancy(cmd));
    return this.mutations.run({
      method: 'MarketingService.GenerateCodes',
      claims,
      requestId: cmd.requestId,
      command: cmd,
      target: {
        load: async (client) => {
          const row = await lockCampaign(client, cmd.campaignId);
          return row && visibleThrough(row, cmd, claims) ? row : undefined;
        },
        tenancy: (row) => campaignTenancy(row),
        notFound: () => CampaignsErrors.notFound(cmd.campaignId),
      },
      execute: async ({ client, target, resourceId, note }) => {
        if (target.status === 'ENDED') throw CodesErrors.campaignEnded(target.campaign_id);
        const left = target.max_coupons - (await requestedCodes(client, target.campaign_id));
        if (BigInt(cmd.count) > left)
          throw CodesErrors.beyondBudget(target.campaign_id, left < 0n ? 0n : left);
        await insertBatch(client, {
          batch_id: resourceId,
          campaign_id: target.campaign_id,
          requested: cmd.count,
          created_by: claims.sub,
        });
        note({ campaign_id: target.campaign_id, requested: cmd.count });
        return (await findBatch(client, resourceId))!;
      },
      replay: async ({ client, resourceId }) => (await findBatch(client, resourceId))!,
    });
  }

  async getCodeBatch(claims: CitybaseClaims, q: CodeBatchQuery): Promise<CodeBatchRow> {
    assertTenancy(claims, requestTenancy(q));
    return this.visibleBatch(claims, q);
  }

  async exportCodes(
    claims: CitybaseClaims,
    q: ExportCodesQuery,
  ): Promise<{ items: { code: string; coupon_id: string | null }[]; nextPageToken: string }> {
    assertTenancy(claims, requestTenancy(q));
    await this.visibleBatch(claims, q);
    const rows = await listCodes(this.pool, q.batchId, q.size, q.after);
    const { rows: items, nextPageToken } = pageOf(rows, q.size, CODES_PAGE, (r) => [r.code]);
    return { items, nextPageToken };
  }

  /**
   * One chunk of the code job: a running batch under its lock (FOR UPDATE SKIP LOCKED, so replicas
   * share the work), up to MARKETING_CODES_CHUNK new codes inserted, its progress raised; done:
   * DONE and CodesGenerated. Returns false when no batch is running.
   */
  async generateChunk(): Promise<boolean> {
    return withTransaction(this.pool, async (client) => {
      const batch = await leaseRunningBatch(client);
      if (!batch) return false;
      const want = Math.min(this.config.MARKETING_CODES_CHUNK, batch.requested - batch.generated);
      // a collision with an existing code (2^-80 odds) is skipped: the next chunk makes up for it
      const inserted = await insertCodes(client, batch, newCodes(want));
      const after = await addGenerated(client, batch.batch_id, inserted);
      if (after.status === 'DONE') await this.finished(client, after);
      return true;
    });
  }

  private async finished(client: PoolClient, batch: CodeBatchRow): Promise<void> {
    const campaign = (await findCampaign(client, batch.campaign_id))!;
    await this.outbox.enqueue(
      client,
      MarketingEvents.CodesGenerated,
      { batch: batchToProto(batch), occurredAt: toTimestamp(batch.finished_at ?? new Date()) },
      { key: batch.campaign_id, tenancy: campaignTenancy(campaign) },
    );
    this.logger.info({ batch_id: batch.batch_id, generated: batch.generated }, 'codes generated');
  }

  private async visibleBatch(claims: CitybaseClaims, q: CodeBatchQuery): Promise<CodeBatchRow> {
    const batch = await findBatch(this.pool, q.batchId);
    if (!batch) throw CodesErrors.batchNotFound(q.batchId);
    const campaign = await findCampaign(this.pool, batch.campaign_id);
    if (!campaign || !visibleThrough(campaign, q, claims)) throw CodesErrors.batchNotFound(q.batchId);
    return batch;
  }
}
