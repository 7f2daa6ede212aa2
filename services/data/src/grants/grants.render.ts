import { toTimestamp } from '@citybase/platform';
import { Grant, GrantStatus } from '@citybase/contracts/citybase/data/v1/data';
import { grantStatus, MASKING_PROTO } from './grants.domain';
import type { GrantRow } from './grants.store';

const STATUS = {
  ACTIVE: GrantStatus.GRANT_STATUS_ACTIVE,
  REVOKED: GrantStatus.GRANT_STATUS_REVOKED,
  EXPIRED: GrantStatus.GRANT_STATUS_EXPIRED,
};

/** A grant as callers see it (never its salt). */
export function grantToProto(g: GrantRow, now = new Date()): Grant {
  return {
    grantId: g.grant_id,
    tenancy: { operatorId: g.operator_id, projectId: g.project_id, merchantId: '' },
    agencyId: g.agency_id,
    agencyClientId: g.agency_client_id,
    datasets: g.datasets.map((d) => ({
      datasetId: d.dataset_id,
      fields: d.fields.map((f) => ({ name: f.name, masking: MASKING_PROTO[f.masking] })),
    })),
    rowFilter: { districts: g.row_filter.districts, projectIds: g.row_filter.project_ids },
    purpose: g.purpose,
    validFrom: toTimestamp(g.valid_from),
    validUntil: toTimestamp(g.valid_until),
    quotaRowsPerDay: BigInt(g.quota_rows_per_day),
    status: STATUS[grantStatus(g, now)],
    version: BigInt(g.version),
    createdAt: toTimestamp(g.created_at),
    revokedAt: g.revoked_at ? toTimestamp(g.revoked_at) : undefined,
    revokeReason: g.revoke_reason,
  };
}
