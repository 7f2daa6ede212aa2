import { Inject, Injectable } from '@nestjs/common';
import {
  CitybaseClaims,
  Mutations,
  pageOf,
  PG_POOL,
  Pool,
  PoolClient,
  SERVICE_CONFIG,
  tenancyFilter,
} from '@citybase/platform';
import type { DataConfig } from '../config';
import {
  ClassificationName,
  DATASETS_PAGE,
  findPii,
  logicalType,
  needsReview,
  RegisterDatasetCommand,
} from './catalog.domain';
import { CatalogErrors } from './catalog.errors';
import {
  DatasetWithFields,
  ensureCursorIndex,
  findDataset,
  listDatasets,
  lockDataset,
  replaceFields,
  sampleText,
  setClassification,
  setScanResult,
  tableColumns,
  upsertDataset,
} from './catalog.store';

/** Only an unrestricted city administrator changes the catalog. */
function assertCityAdmin(claims: CitybaseClaims): void {
  if (!tenancyFilter(claims).all) throw CatalogErrors.cityAdminOnly();
}

/**
 * The catalog (docs/data.md "Catalog"): tables of the data store that follow the fact-table
 * convention (seq identity, txid xid8), offered as datasets with classified fields. A field is
 * blocked from export while unclassified or while the PII scan found personal data in it that its
 * classification does not admit.
 */
@Injectable()
export class CatalogService {
  constructor(
    @Inject(PG_POOL) private readonly pool: Pool,
    @Inject(SERVICE_CONFIG) private readonly config: DataConfig,
    private readonly mutations: Mutations,
  ) {}

  async register(claims: CitybaseClaims, cmd: RegisterDatasetCommand): Promise<DatasetWithFields> {
    assertCityAdmin(claims);
    return this.mutations.run({
      method: 'DataService.RegisterDataset',
      claims,
      requestId: cmd.requestId,
      command: cmd,
      execute: async ({ client, note }) => {
        const columns = await tableColumns(client, cmd.sourceTable);
        if (!columns) throw CatalogErrors.tableMissing(cmd.sourceTable);
        if (columns.get('seq') !== 'int8')
          throw CatalogErrors.notConvention(cmd.sourceTable, 'seq', 'must be bigint');
        if (columns.get('txid') !== 'xid8')
          throw CatalogErrors.notConvention(cmd.sourceTable, 'txid', 'must be xid8');
        const fields = cmd.fields.map((f, i) => {
          const pgType = columns.get(f.name);
          if (!pgType) throw CatalogErrors.columnMissing(i, cmd.sourceTable, f.name);
          return { ...f, type: logicalType(pgType) };
        });
        await upsertDataset(client, cmd, {
          operator: columns.has('operator_id'),
          project: columns.has('project_id'),
          district: columns.has('district'),
        });
        await replaceFields(client, cmd.datasetId, fields);
        await ensureCursorIndex(client, cmd.sourceTable);
        const scanned = await this.scanIn(client, cmd.datasetId);
        note({ dataset_id: cmd.datasetId, rows_scanned: scanned });
        return (await findDataset(client, cmd.datasetId))!;
      },
      replay: async ({ client }) => (await findDataset(client, cmd.datasetId))!,
    });
  }

  async classify(
    claims: CitybaseClaims,
    cmd: { requestId: string; datasetId: string; field: string; classification: ClassificationName },
  ): Promise<DatasetWithFields> {
    assertCityAdmin(claims);
    return this.mutations.run({
      method: 'DataService.ClassifyField',
      claims,
      requestId: cmd.requestId,
      command: cmd,
      execute: async ({ client, note }) => {
        const d = await lockDataset(client, cmd.datasetId);
        if (!d) throw CatalogErrors.notFound(cmd.datasetId);
        const f = d.fields.find((x) => x.name === cmd.field);
        if (!f) throw CatalogErrors.fieldNotFound(cmd.datasetId, cmd.field);
        await setClassification(client, cmd.datasetId, cmd.field, cmd.classification);
        note({ dataset_id: cmd.datasetId, field: cmd.field, from: f.classification, to: cmd.classification });
        return (await findDataset(client, cmd.datasetId))!;
      },
      replay: async ({ client }) => (await findDataset(client, cmd.datasetId))!,
    });
  }

  async scan(
    claims: CitybaseClaims,
    cmd: { requestId: string; datasetId: string },
  ): Promise<{ dataset: DatasetWithFields; rowsScanned: number }> {
    assertCityAdmin(claims);
    return this.mutations.run({
      method: 'DataService.ScanDataset',
      claims,
      requestId: cmd.requestId,
      command: cmd,
      execute: async ({ client, note }) => {
        const d = await lockDataset(client, cmd.datasetId);
        if (!d) throw CatalogErrors.notFound(cmd.datasetId);
        const rowsScanned = await this.scanIn(client, cmd.datasetId);
        note({ dataset_id: cmd.datasetId, rows_scanned: rowsScanned });
        return { dataset: (await findDataset(client, cmd.datasetId))!, rowsScanned };
      },
      replay: async ({ client }) => ({
        dataset: (await findDataset(client, cmd.datasetId))!,
        rowsScanned: 0,
      }),
    });
  }

  async get(datasetId: string): Promise<DatasetWithFields> {
    const d = await findDataset(this.pool, datasetId);
    if (!d) throw CatalogErrors.notFound(datasetId);
    return d;
  }

  async list(page: { size: number; after: string | undefined }) {
    const rows = await listDatasets(this.pool, page.after, page.size);
    return pageOf(rows, page.size, DATASETS_PAGE, (r) => [r.dataset_id] as const);
  }

  /** The PII scan of the dataset's text fields over the newest rows; returns the rows read. */
  private async scanIn(client: PoolClient, datasetId: string): Promise<number> {
    const d = (await findDataset(client, datasetId))!;
    const text = d.fields.filter((f) => f.type === 'string' || f.type === 'json');
    if (text.length === 0) return 0;
    const sample = await sampleText(
      client,
      d.source_table,
      text.map((f) => f.name),
      this.config.DATA_SCAN_SAMPLE_ROWS,
    );
    for (const f of text) {
      const counts = new Map<string, number>();
      for (const row of sample) {
        const v = row[f.name];
        if (v) for (const kind of findPii(v)) counts.set(kind, (counts.get(kind) ?? 0) + 1);
      }
      const findings = [...counts].map(([kind, rows]) => ({ kind, rows }));
      await setScanResult(client, datasetId, f.name, findings, needsReview(f.classification, findings));
    }
    return sample.length;
  }
}
