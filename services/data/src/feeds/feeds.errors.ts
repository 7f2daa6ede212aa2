import { DomainError } from '@citybase/platform';

/** Error codes of feeds. */
export const FeedErrors = {
  /** Also what a grant answers to any client but its agency's: whose it is, is not told. */
  grantNotFound: (grantId: string) => DomainError.notFound('grant', grantId, 'GRANT_NOT_FOUND'),
  pullNotFound: (pullId: string) => DomainError.notFound('pull', pullId, 'PULL_NOT_FOUND'),
  revoked: (grantId: string) =>
    new DomainError(
      'permission_denied',
      'GRANT_REVOKED',
      `grant ${grantId} has been revoked: no further rows`,
    ),
  expired: (grantId: string) =>
    new DomainError('permission_denied', 'GRANT_EXPIRED', `grant ${grantId} has expired: no further rows`),
  notYetValid: (grantId: string, from: Date) =>
    new DomainError(
      'permission_denied',
      'GRANT_NOT_YET_VALID',
      `grant ${grantId} is valid from ${from.toISOString()}`,
    ),
  datasetNotGranted: (datasetId: string) =>
    DomainError.invalid('dataset_id', `${datasetId} is not granted by this grant`, 'DATASET_NOT_GRANTED'),
  datasetGone: (datasetId: string) =>
    DomainError.precondition('DATASET_NOT_IN_CATALOG', `dataset ${datasetId} is no longer in the catalog`),
  fieldBlocked: (datasetId: string, field: string) =>
    new DomainError(
      'failed_precondition',
      'FIELD_BLOCKED',
      `${datasetId}.${field} is blocked from export until it is classified`,
      { field },
    ),
  overQuota: (grantId: string, quota: bigint, retryAfterSeconds: number) =>
    new DomainError(
      'resource_exhausted',
      'QUOTA_EXHAUSTED',
      `grant ${grantId} has served its ${quota} rows of today (UTC); retry after ${retryAfterSeconds} s`,
      { rule: `at most ${quota} rows per UTC day`, retryAfterSeconds },
    ),
};
