import { randomBytes } from 'node:crypto';
import {
  DomainError,
  keyPart,
  pageCursor,
  PageLimits,
  parsePage,
  requestId,
  requiredUuid,
} from '@citybase/platform';
import type {
  ExportCodesRequest,
  GenerateCodesRequest,
  GetCodeBatchRequest,
} from '@citybase/contracts/citybase/marketing/v1/marketing';
import { toTenancy } from '../campaigns/campaigns.domain';

/**
 * Pure rules of codes (docs/marketing.md "Codes"): unique codes are 16 characters of Crockford
 * base32 from 80 random bits (node:crypto), requests validated into commands.
 */

/** Crockford's base32 alphabet: no I, L, O, U. */
export const CROCKFORD = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
export const UNIQUE_CODE = /^[0-9A-HJKMNP-TV-Z]{16}$/;
/** Codes of one GenerateCodes request. */
export const MAX_CODES_PER_BATCH = 100_000;

/** One unguessable code: 80 random bits as 16 base32 characters. */
export function newCode(): string {
  const bytes = randomBytes(10);
  let bits = 0n;
  for (const b of bytes) bits = (bits << 8n) | BigInt(b);
  let out = '';
  for (let i = 15; i >= 0; i--) out += CROCKFORD[Number((bits >> BigInt(i * 5)) & 31n)];
  return out;
}

/** `n` distinct new codes. */
export function newCodes(n: number): string[] {
  const codes = new Set<string>();
  while (codes.size < n) codes.add(newCode());
  return [...codes];
}

export interface GenerateCodesCommand {
  requestId: string;
  operatorId: string;
  projectId: string;
  campaignId: string;
  count: number;
}

export function toGenerateCodesCommand(req: Partial<GenerateCodesRequest>): GenerateCodesCommand {
  const id = requestId(req.requestId);
  const t = toTenancy(req.tenancy);
  const campaignId = requiredUuid('campaign_id', req.campaignId);
  const count = req.count ?? 0n;
  if (count < 1n || count > BigInt(MAX_CODES_PER_BATCH))
    throw DomainError.invalid('count', `must be 1-${MAX_CODES_PER_BATCH.toLocaleString('en')}`);
  return {
    requestId: id,
    operatorId: t.operatorId,
    projectId: t.projectId,
    campaignId,
    count: Number(count),
  };
}

export interface CodeBatchQuery {
  operatorId: string;
  projectId: string;
  batchId: string;
}

export function toGetCodeBatchQuery(req: Partial<GetCodeBatchRequest>): CodeBatchQuery {
  const t = toTenancy(req.tenancy);
  return { operatorId: t.operatorId, projectId: t.projectId, batchId: requiredUuid('batch_id', req.batchId) };
}

/** ExportCodes pages: up to 10,000 codes, by code. */
export const EXPORT_LIMITS: PageLimits = Object.freeze({ defaultSize: 1_000, maxSize: 10_000 });
export const CODES_PAGE = pageCursor('marketing.codes', keyPart.text(UNIQUE_CODE, 16));

export interface ExportCodesQuery extends CodeBatchQuery {
  size: number;
  after: string | undefined;
}

export function toExportCodesQuery(req: Partial<ExportCodesRequest>): ExportCodesQuery {
  const q = toGetCodeBatchQuery(req);
  const { size, after } = parsePage(req.page, CODES_PAGE, EXPORT_LIMITS);
  return { ...q, size, after: after?.[0] };
}
