import { toTimestamp } from '@citybase/platform';
import type { Dataset } from '@citybase/contracts/citybase/data/v1/data';
import { ClassificationName, exportBlocked, REVERSE_CLASSIFICATION } from './catalog.domain';
import type { DatasetWithFields } from './catalog.store';

export function datasetToProto(d: DatasetWithFields): Dataset {
  return {
    datasetId: d.dataset_id,
    title: d.title,
    description: d.description,
    sourceTable: d.source_table,
    owner: d.owner,
    updateFrequency: d.update_frequency,
    hasOperator: d.has_operator,
    hasProject: d.has_project,
    hasDistrict: d.has_district,
    version: BigInt(d.version),
    updatedAt: toTimestamp(d.updated_at),
    fields: d.fields.map((f) => ({
      name: f.name,
      type: f.type,
      classification: REVERSE_CLASSIFICATION[f.classification as ClassificationName],
      description: f.description,
      freeText: f.free_text,
      piiFindings: f.pii_findings.map((p) => ({ kind: p.kind, rows: BigInt(p.rows) })),
      exportBlocked: exportBlocked(f),
    })),
  };
}
