import { DomainError } from '@citybase/platform';

/** Error codes of reconciliation. */
export const ReconciliationErrors = {
  reportNotFound: (reportId: string) =>
    DomainError.notFound('reconciliation report', reportId, 'RECONCILIATION_REPORT_NOT_FOUND'),
};
