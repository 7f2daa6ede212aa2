import type { PoolClient } from '@citybase/platform';
import { quoteIdent, Queryable } from '../sql';
import type { FieldSpec, LogicalType, RegisterDatasetCommand } from './catalog.domain';

export interface DatasetRow {
  dataset_id: string;
  title: string;
  description: string;
  source_table: string;
  owner: string;
  update_frequency: string;
  has_operator: boolean;
  has_project: boolean;
  has_district: boolean;
  version: string;
  updated_at: Date;
}

export interface FieldRow {
  dataset_id: string;
  name: string;
  position: number;
  type: LogicalType;
  classification: string;
  description: string;
  free_text: boolean;
  pii_findings: { kind: string; rows: number }[];
  pii_review: boolean;
}

export interface DatasetWithFields extends DatasetRow {
  fields: FieldRow[];
}

/** The columns of a table of the data store (PostgreSQL type names), or undefined if there is none. */
export async function tableColumns(
  client: Queryable,
  table: string,
): Promise<Map<string, string> | undefined> {
  const { rows: exists } = await client.query<{ oid: string | null }>(`SELECT to_regclass($1)::text AS oid`, [
    quoteIdent(table),
  ]);
  if (!exists[0]?.oid) return undefined;
  const { rows } = await client.query<{ name: string; type: string }>(
    `SELECT a.attname AS name, t.typname AS type
       FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
      WHERE a.attrelid = to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped`,
    [quoteIdent(table)],
  );
  return new Map(rows.map((r) => [r.name, r.type]));
}

/** The cursor's index: (txid, seq) in commit order. */
export async function ensureCursorIndex(client: PoolClient, table: string): Promise<void> {
  const name = `feed_cursor_${table.replace(/\./g, '_')}`.slice(0, 63);
  await client.query(`CREATE INDEX IF NOT EXISTS ${quoteIdent(name)} ON ${quoteIdent(table)} (txid, seq)`);
}

export async function upsertDataset(
  client: PoolClient,
  cmd: RegisterDatasetCommand,
  has: { operator: boolean; project: boolean; district: boolean },
): Promise<void> {
  await client.query(
    `INSERT INTO datasets (dataset_id, title, description, source_table, owner, update_frequency,
                           has_operator, has_project, has_district)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
     ON CONFLICT (dataset_id) DO UPDATE SET
       title = EXCLUDED.title, description = EXCLUDED.description, source_table = EXCLUDED.source_table,
       owner = EXCLUDED.owner, update_frequency = EXCLUDED.update_frequency,
       has_operator = EXCLUDED.has_operator, has_project = EXCLUDED.has_project,
       has_district = EXCLUDED.has_district, version = datasets.version + 1, updated_at = now()`,
    [
      cmd.datasetId,
      cmd.title,
      cmd.description,
      cmd.sourceTable,
      cmd.owner,
      cmd.updateFrequency,
      has.operator,
      has.project,
      has.district,
    ],
  );
}

export async function replaceFields(
  client: PoolClient,
  datasetId: string,
  fields: (FieldSpec & { type: LogicalType })[],
): Promise<void> {
  await client.query(`DELETE FROM dataset_fields WHERE dataset_id = $1`, [datasetId]);
  for (const [i, f] of fields.entries()) {
    await client.query(
      `INSERT INTO dataset_fields (dataset_id, name, position, type, classification, description, free_text)
       VALUES ($1, $2, $3, $4, $5, $6, $7)`,
      [datasetId, f.name, i, f.type, f.classification, f.description, f.freeText],
    );
  }
}

export async function findDataset(
  client: Queryable,
  datasetId: string,
): Promise<DatasetWithFields | undefined> {
  const { rows } = await client.query<DatasetRow>(
    `SELECT dataset_id, title, description, source_table, owner, update_frequency, has_operator,
            has_project, has_district, version::text, updated_at
       FROM datasets WHERE dataset_id = $1`,
    [datasetId],
  );
  if (!rows[0]) return undefined;
  return { ...rows[0], fields: await fieldsOf(client, [datasetId]).then((m) => m.get(datasetId) ?? []) };
}

export async function lockDataset(
  client: PoolClient,
  datasetId: string,
): Promise<DatasetWithFields | undefined> {
  await client.query(`SELECT 1 FROM datasets WHERE dataset_id = $1 FOR UPDATE`, [datasetId]);
  return findDataset(client, datasetId);
}

export async function listDatasets(
  client: Queryable,
  after: string | undefined,
  size: number,
): Promise<DatasetWithFields[]> {
  const { rows } = await client.query<DatasetRow>(
    `SELECT dataset_id, title, description, source_table, owner, update_frequency, has_operator,
            has_project, has_district, version::text, updated_at
       FROM datasets WHERE ($1::text IS NULL OR dataset_id > $1) ORDER BY dataset_id LIMIT $2`,
    [after ?? null, size + 1],
  );
  const fields = await fieldsOf(
    client,
    rows.map((r) => r.dataset_id),
  );
  return rows.map((r) => ({ ...r, fields: fields.get(r.dataset_id) ?? [] }));
}

async function fieldsOf(client: Queryable, datasetIds: string[]): Promise<Map<string, FieldRow[]>> {
  const { rows } = await client.query<FieldRow>(
    `SELECT dataset_id, name, position, type, classification, description, free_text, pii_findings, pii_review
       FROM dataset_fields WHERE dataset_id = ANY($1) ORDER BY dataset_id, position`,
    [datasetIds],
  );
  const out = new Map<string, FieldRow[]>();
  for (const r of rows) out.set(r.dataset_id, [...(out.get(r.dataset_id) ?? []), r]);
  return out;
}

export async function setClassification(
  client: PoolClient,
  datasetId: string,
  field: string,
  classification: string,
): Promise<void> {
  await client.query(
    `UPDATE dataset_fields SET classification = $3, pii_review = false WHERE dataset_id = $1 AND name = $2`,
    [datasetId, field, classification],
  );
  await client.query(`UPDATE datasets SET version = version + 1, updated_at = now() WHERE dataset_id = $1`, [
    datasetId,
  ]);
}

export async function setScanResult(
  client: PoolClient,
  datasetId: string,
  field: string,
  findings: { kind: string; rows: number }[],
  review: boolean,
): Promise<void> {
  await client.query(
    `UPDATE dataset_fields SET pii_findings = $3, pii_review = pii_review OR $4 WHERE dataset_id = $1 AND name = $2`,
    [datasetId, field, JSON.stringify(findings), review],
  );
}

/** The newest rows' text of some columns of a table (the PII scan's sample). */
export async function sampleText(
  client: Queryable,
  table: string,
  columns: string[],
  limit: number,
): Promise<Record<string, string | null>[]> {
  const cols = columns.map((c, i) => `${quoteIdent(c)}::text AS c${i}`).join(', ');
  const { rows } = await client.query<Record<string, string | null>>(
    `SELECT ${cols} FROM ${quoteIdent(table)} ORDER BY seq DESC LIMIT $1`,
    [limit],
  );
  return rows.map((r) => Object.fromEntries(columns.map((c, i) => [c, r[`c${i}`] ?? null])));
}
