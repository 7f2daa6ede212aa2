import {
  DomainError,
  keyPart,
  optionalString,
  pageCursor,
  requestId,
  requiredString,
} from '@citybase/platform';
import { Classification, RegisterDatasetRequest } from '@citybase/contracts/citybase/data/v1/data';

export type ClassificationName = 'UNSPECIFIED' | 'PUBLIC' | 'INTERNAL' | 'PERSONAL' | 'SENSITIVE';

export const CLASSIFICATION_NAME: Record<Classification, ClassificationName> = {
  [Classification.CLASSIFICATION_UNSPECIFIED]: 'UNSPECIFIED',
  [Classification.CLASSIFICATION_PUBLIC]: 'PUBLIC',
  [Classification.CLASSIFICATION_INTERNAL]: 'INTERNAL',
  [Classification.CLASSIFICATION_PERSONAL]: 'PERSONAL',
  [Classification.CLASSIFICATION_SENSITIVE]: 'SENSITIVE',
  [Classification.UNRECOGNIZED]: 'UNSPECIFIED',
};

/** Dataset ids: "<owner>.<name>", lowercase. */
export const DATASET_ID = {
  max: 80,
  pattern: /^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$/,
  patternRule: 'must be lowercase words joined by dots, e.g. settlement.tax_records',
};
/** Tables and columns of the data store: plain lowercase identifiers (a schema may prefix a table). */
export const TABLE_NAME = {
  max: 120,
  pattern: /^[a-z_][a-z0-9_]*(\.[a-z_][a-z0-9_]*)?$/,
  patternRule: 'must be a lowercase table name, optionally schema-qualified',
};
export const COLUMN_NAME = {
  max: 63,
  pattern: /^[a-z_][a-z0-9_]*$/,
  patternRule: 'must be a lowercase column name',
};

/** Logical types of the catalog, from PostgreSQL's type of the column. */
export type LogicalType =
  'string' | 'int32' | 'int64' | 'decimal' | 'double' | 'timestamp' | 'date' | 'bool' | 'json';

export function logicalType(pgType: string): LogicalType {
  switch (pgType) {
    case 'int2':
    case 'int4':
      return 'int32';
    case 'int8':
      return 'int64';
    case 'numeric':
      return 'decimal';
    case 'float4':
    case 'float8':
      return 'double';
    case 'timestamptz':
    case 'timestamp':
      return 'timestamp';
    case 'date':
      return 'date';
    case 'bool':
      return 'bool';
    case 'json':
    case 'jsonb':
      return 'json';
    default:
      return 'string';
  }
}

export interface FieldSpec {
  name: string;
  classification: ClassificationName;
  description: string;
  freeText: boolean;
}

export interface RegisterDatasetCommand {
  requestId: string;
  datasetId: string;
  title: string;
  description: string;
  sourceTable: string;
  owner: string;
  updateFrequency: string;
  fields: FieldSpec[];
}

export function toRegisterDatasetCommand(req: RegisterDatasetRequest): RegisterDatasetCommand {
  const fields = req.fields.map((f, i) => ({
    name: requiredString(`fields[${i}].name`, f.name, COLUMN_NAME),
    classification: CLASSIFICATION_NAME[f.classification] ?? 'UNSPECIFIED',
    description: optionalString(`fields[${i}].description`, f.description, { max: 1000 }),
    freeText: f.freeText,
  }));
  if (fields.length === 0) throw DomainError.invalid('fields', 'must name at least one column');
  const seen = new Set<string>();
  fields.forEach((f, i) => {
    if (seen.has(f.name)) throw DomainError.invalid(`fields[${i}].name`, `${f.name} is named twice`);
    if (f.name === 'txid')
      throw DomainError.invalid(`fields[${i}].name`, 'txid is the commit order, not data');
    seen.add(f.name);
  });
  return {
    requestId: requestId(req.requestId),
    datasetId: requiredString('dataset_id', req.datasetId, DATASET_ID),
    title: requiredString('title', req.title, { max: 200 }),
    description: optionalString('description', req.description, { max: 2000 }),
    sourceTable: requiredString('source_table', req.sourceTable, TABLE_NAME),
    owner: requiredString('owner', req.owner, { max: 120 }),
    updateFrequency: requiredString('update_frequency', req.updateFrequency, {
      max: 40,
      pattern: /^(continuous|hourly|daily|weekly|monthly|irregular)$/,
      patternRule: 'must be continuous, hourly, daily, weekly, monthly or irregular (dct:accrualPeriodicity)',
    }),
    fields,
  };
}

// --- PII scan -----------------------------------------------------------------------------------

export type PiiKind = 'mobile' | 'id_number' | 'plate';

const MOBILE = /(?:(?<=\+86[- ]?)|(?<![0-9]))1[3-9][0-9]{9}(?![0-9])/;
const ID_CANDIDATE = /(?<![0-9])[0-9]{17}[0-9Xx](?![0-9Xx])/g;
const PLATE =
  /[京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼][A-HJ-NP-Z][·• ]?[A-HJ-NP-Z0-9]{4,5}[A-HJ-NP-Z0-9挂学警]/u;
const ID_WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
const ID_CHECK = '10X98765432';

/** ISO 7064 MOD 11-2 check digit of a resident ID number (GB 11643): true if the 18th character is right. */
export function idNumberChecks(id: string): boolean {
  if (!/^[0-9]{17}[0-9Xx]$/.test(id)) return false;
  let sum = 0;
  for (let i = 0; i < 17; i++) sum += Number(id[i]) * ID_WEIGHTS[i]!;
  return ID_CHECK[sum % 11] === id[17]!.toUpperCase();
}

/** The kinds of personal data in a text: mobile numbers, ID numbers with a valid check digit, plates. */
export function findPii(text: string): PiiKind[] {
  const kinds: PiiKind[] = [];
  if (MOBILE.test(text)) kinds.push('mobile');
  for (const m of text.matchAll(ID_CANDIDATE)) {
    if (idNumberChecks(m[0])) {
      kinds.push('id_number');
      break;
    }
  }
  if (PLATE.test(text)) kinds.push('plate');
  return kinds;
}

/** A field cannot be granted or served while unclassified or under PII review. */
export function exportBlocked(f: { classification: string; pii_review: boolean }): boolean {
  return f.classification === 'UNSPECIFIED' || f.pii_review;
}

/** A scan's findings require review unless the field is already classified as personal data. */
export function needsReview(classification: string, findings: readonly { kind: string }[]): boolean {
  return findings.length > 0 && classification !== 'PERSONAL' && classification !== 'SENSITIVE';
}

export const DATASETS_PAGE = pageCursor('data.datasets', keyPart.text(DATASET_ID.pattern, DATASET_ID.max));

export const REVERSE_CLASSIFICATION: Record<ClassificationName, Classification> = {
  UNSPECIFIED: Classification.CLASSIFICATION_UNSPECIFIED,
  PUBLIC: Classification.CLASSIFICATION_PUBLIC,
  INTERNAL: Classification.CLASSIFICATION_INTERNAL,
  PERSONAL: Classification.CLASSIFICATION_PERSONAL,
  SENSITIVE: Classification.CLASSIFICATION_SENSITIVE,
};
