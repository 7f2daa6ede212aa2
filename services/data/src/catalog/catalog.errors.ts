import { DomainError } from '@citybase/platform';

/** Error codes of the catalog. */
export const CatalogErrors = {
  notFound: (datasetId: string) => DomainError.notFound('dataset', datasetId, 'DATASET_NOT_FOUND'),
  fieldNotFound: (datasetId: string, field: string) =>
    DomainError.notFound('field', `${datasetId}.${field}`, 'FIELD_NOT_FOUND'),
  cityAdminOnly: () =>
    new DomainError(
      'permission_denied',
      'CITY_ADMIN_ONLY',
      'the catalog is changed by an unrestricted city administrator only',
    ),
  tableMissing: (table: string) =>
    DomainError.invalid('source_table', `no table ${table} in the data store`, 'TABLE_NOT_FOUND'),
  notConvention: (table: string, column: string, rule: string) =>
    DomainError.invalid(
      'source_table',
      `${table}.${column} ${rule} (fact tables have seq bigint identity and txid xid8)`,
      'TABLE_NOT_A_FACT_TABLE',
    ),
  columnMissing: (i: number, table: string, column: string) =>
    DomainError.invalid(`fields[${i}].name`, `${table} has no column ${column}`, 'COLUMN_NOT_FOUND'),
};
