import { toTimestamp } from '@citybase/platform';
import { CodeBatch, CodeBatchStatus } from '@citybase/contracts/citybase/marketing/v1/marketing';
import type { CodeBatchRow } from './codes.store';

/** Proto answers of codes. */
export function batchToProto(b: CodeBatchRow): CodeBatch {
  return {
    batchId: b.batch_id,
    campaignId: b.campaign_id,
    status:
      b.status === 'DONE'
        ? CodeBatchStatus.CODE_BATCH_STATUS_DONE
        : CodeBatchStatus.CODE_BATCH_STATUS_RUNNING,
    requested: BigInt(b.requested),
    generated: BigInt(b.generated),
    createdAt: toTimestamp(b.created_at),
    finishedAt: b.finished_at ? toTimestamp(b.finished_at) : undefined,
  };
}
