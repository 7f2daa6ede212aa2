import {
  DomainError,
  fromTimestamp,
  keyPart,
  optionalString,
  pageCursor,
  requestId,
  requiredString,
  TENANT_ID,
} from '@citybase/platform';
import { IssueGrantRequest, Masking } from '@citybase/contracts/citybase/data/v1/data';
import { COLUMN_NAME, DATASET_ID, exportBlocked } from '../catalog/catalog.domain';
import type { DatasetWithFields } from '../catalog/catalog.store';

export type MaskingName = 'CLEAR' | 'DROP' | 'HASH' | 'LAST4' | 'MONTH' | 'AMOUNT_BAND' | 'DISTRICT';

export const MASKING_NAME: Partial<Record<Masking, MaskingName>> = {
  [Masking.MASKING_CLEAR]: 'CLEAR',
  [Masking.MASKING_DROP]: 'DROP',
  [Masking.MASKING_HASH]: 'HASH',
  [Masking.MASKING_LAST4]: 'LAST4',
  [Masking.MASKING_MONTH]: 'MONTH',
  [Masking.MASKING_AMOUNT_BAND]: 'AMOUNT_BAND',
  [Masking.MASKING_DISTRICT]: 'DISTRICT',
};

export const MASKING_PROTO: Record<MaskingName, Masking> = {
  CLEAR: Masking.MASKING_CLEAR,
  DROP: Masking.MASKING_DROP,
  HASH: Masking.MASKING_HASH,
  LAST4: Masking.MASKING_LAST4,
  MONTH: Masking.MASKING_MONTH,
  AMOUNT_BAND: Masking.MASKING_AMOUNT_BAND,
  DISTRICT: Masking.MASKING_DISTRICT,
};

export interface GrantedField {
  name: string;
  masking: MaskingName;
}
export interface GrantedDataset {
  dataset_id: string;
  fields: GrantedField[];
}
export interface RowFilter {
  districts: string[];
  project_ids: string[];
}

export interface IssueGrantCommand {
  requestId: string;
  operatorId: string;
  projectId: string;
  agencyId: string;
  agencyClientId: string;
  datasets: GrantedDataset[];
  rowFilter: RowFilter;
  purpose: string;
  validFrom: Date;
  validUntil: Date;
  quotaRowsPerDay: bigint;
}

const DISTRICT = { max: 64, pattern: /^[^\s].{0,63}$/u, patternRule: 'must be a district name' };

export function toIssueGrantCommand(req: IssueGrantRequest, now: Date): IssueGrantCommand {
  const operatorId = optionalString('tenancy.operator_id', req.tenancy?.operatorId, { max: 64 });
  const projectId = optionalString('tenancy.project_id', req.tenancy?.projectId, { max: 64 });
  if (projectId !== '' && operatorId === '')
    throw DomainError.invalid('tenancy.operator_id', 'is required when tenancy.project_id is set');
  if (operatorId !== '') requiredString('tenancy.operator_id', operatorId, TENANT_ID);
  if (projectId !== '') requiredString('tenancy.project_id', projectId, TENANT_ID);
  if (req.datasets.length === 0) throw DomainError.invalid('datasets', 'must grant at least one dataset');
  const seenDatasets = new Set<string>();
  const datasets = req.datasets.map((d, i) => {
    const datasetId = requiredString(`datasets[${i}].dataset_id`, d.datasetId, DATASET_ID);
    if (seenDatasets.has(datasetId))
      throw DomainError.invalid(`datasets[${i}].dataset_id`, 'is granted twice');
    seenDatasets.add(datasetId);
    if (d.fields.length === 0)
      throw DomainError.invalid(`datasets[${i}].fields`, 'must grant at least one field');
    const seen = new Set<string>();
    const fields = d.fields.map((f, j) => {
      const name = requiredString(`datasets[${i}].fields[${j}].name`, f.name, COLUMN_NAME);
      if (seen.has(name))
        throw DomainError.invalid(`datasets[${i}].fields[${j}].name`, `${name} is granted twice`);
      seen.add(name);
      const masking = MASKING_NAME[f.masking];
      if (!masking)
        throw DomainError.invalid(
          `datasets[${i}].fields[${j}].masking`,
          'must be CLEAR, DROP, HASH, LAST4, MONTH, AMOUNT_BAND or DISTRICT',
        );
      return { name, masking };
    });
    return { dataset_id: datasetId, fields };
  });
  const districts = (req.rowFilter?.districts ?? []).map((v, i) =>
    requiredString(`row_filter.districts[${i}]`, v, DISTRICT),
  );
  const projectIds = (req.rowFilter?.projectIds ?? []).map((v, i) =>
    requiredString(`row_filter.project_ids[${i}]`, v, TENANT_ID),
  );
  if (!req.validUntil) throw DomainError.invalid('valid_until', 'is required');
  const validFrom = req.validFrom ? fromTimestamp(req.validFrom) : now;
  const validUntil = fromTimestamp(req.validUntil);
  if (validUntil.getTime() <= validFrom.getTime())
    throw DomainError.invalid('valid_until', 'must be after valid_from');
  if (req.quotaRowsPerDay <= 0n) throw DomainError.invalid('quota_rows_per_day', 'must be positive');
  return {
    requestId: requestId(req.requestId),
    operatorId,
    projectId,
    agencyId: requiredString('agency_id', req.agencyId, TENANT_ID),
    agencyClientId: requiredString('agency_client_id', req.agencyClientId, { max: 128 }),
    datasets,
    rowFilter: { districts, project_ids: projectIds },
    purpose: requiredString('purpose', req.purpose, { max: 500 }),
    validFrom,
    validUntil,
    quotaRowsPerDay: req.quotaRowsPerDay,
  };
}

/** Which masking a field's type admits. */
function maskingFits(masking: MaskingName, type: string, d: DatasetWithFields): string | undefined {
  switch (masking) {
    case 'CLEAR':
    case 'DROP':
    case 'HASH':
    case 'LAST4':
      return undefined;
    case 'MONTH':
      return type === 'timestamp' || type === 'date' ? undefined : 'MONTH applies to dates and timestamps';
    case 'AMOUNT_BAND':
      return ['int32', 'int64', 'decimal', 'double'].includes(type)
        ? undefined
        : 'AMOUNT_BAND applies to amounts';
    case 'DISTRICT':
      return d.has_district ? undefined : `DISTRICT needs a district column, which ${d.dataset_id} lacks`;
  }
}

/**
 * The grant's datasets and row filter against the catalog: every field exists, is not blocked
 * (FAILED_PRECONDITION FIELD_BLOCKED), takes its masking (a sensitive field is never CLEAR); an
 * operator's grant needs operator_id (and project_id) columns to confine the rows to its own, and
 * a row filter needs the column it filters on.
 */
export function checkAgainstCatalog(cmd: IssueGrantCommand, catalog: Map<string, DatasetWithFields>): void {
  cmd.datasets.forEach((g, i) => {
    const d = catalog.get(g.dataset_id);
    if (!d)
      throw DomainError.invalid(`datasets[${i}].dataset_id`, `no dataset ${g.dataset_id} in the catalog`);
    if (cmd.operatorId !== '' && !d.has_operator)
      throw DomainError.invalid(
        `datasets[${i}].dataset_id`,
        `${d.dataset_id} has no operator_id: only the city can grant it`,
      );
    if (cmd.projectId !== '' && !d.has_project)
      throw DomainError.invalid(
        `datasets[${i}].dataset_id`,
        `${d.dataset_id} has no project_id: a project cannot grant it`,
      );
    if (cmd.rowFilter.districts.length > 0 && !d.has_district)
      throw DomainError.invalid('row_filter.districts', `${d.dataset_id} has no district column`);
    if (cmd.rowFilter.project_ids.length > 0 && !d.has_project)
      throw DomainError.invalid('row_filter.project_ids', `${d.dataset_id} has no project_id column`);
    g.fields.forEach((f, j) => {
      const field = d.fields.find((x) => x.name === f.name);
      const path = `datasets[${i}].fields[${j}]`;
      if (!field) throw DomainError.invalid(`${path}.name`, `${d.dataset_id} has no field ${f.name}`);
      if (exportBlocked(field)) throw GrantErrors.fieldBlocked(d.dataset_id, f.name);
      const misfit = maskingFits(f.masking, field.type, d);
      if (misfit) throw DomainError.invalid(`${path}.masking`, misfit);
      if (field.classification === 'SENSITIVE' && f.masking === 'CLEAR')
        throw DomainError.invalid(`${path}.masking`, `${f.name} is sensitive: it must be masked`);
    });
  });
}

export const GrantErrors = {
  notFound: (grantId: string) => DomainError.notFound('grant', grantId, 'GRANT_NOT_FOUND'),
  cityOnly: () =>
    new DomainError(
      'permission_denied',
      'CITY_GRANT_NEEDS_CITY_ADMIN',
      'a grant of the whole city (no tenancy.operator_id) is issued by an unrestricted city administrator only',
    ),
  fieldBlocked: (datasetId: string, field: string) =>
    new DomainError(
      'failed_precondition',
      'FIELD_BLOCKED',
      `${datasetId}.${field} is blocked from export until it is classified (unclassified, or the PII scan found personal data)`,
      { field },
    ),
};

export const GRANTS_PAGE = pageCursor('data.grants', keyPart.timestamp, keyPart.uuid);

export function grantStatus(
  g: { status: string; valid_until: Date },
  now: Date,
): 'ACTIVE' | 'REVOKED' | 'EXPIRED' {
  if (g.status === 'REVOKED') return 'REVOKED';
  return now.getTime() >= g.valid_until.getTime() ? 'EXPIRED' : 'ACTIVE';
}
