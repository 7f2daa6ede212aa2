// Set-up of the feeds suites: the data service (in-process) on its own database, a fact table of
// the data store's convention made by the test, the city admin and operators' clients, and an
// agency's client that pulls over gRPC streaming and HTTP.
import * as grpc from '@grpc/grpc-js';
import { toTimestamp } from '@citybase/platform';
import {
  PromiseClient,
  ServiceHarness,
  startServiceHarness,
  uniqueName,
  waitFor,
} from '@citybase/platform/testing';
import {
  Classification,
  DataServiceService,
  FeedManifest,
  GrantedField,
  IssueGrantRequest,
  Masking,
  PullFeedRequest,
  PullFeedResponse,
} from '@citybase/contracts/citybase/data/v1/data';
import { definition } from '../src/definition';
export { errorCode, errorField, grpcError } from '@citybase/platform/testing';
export { status } from '@grpc/grpc-js';

export type DataClient = PromiseClient<typeof DataServiceService>;
export type DataHarness = ServiceHarness<typeof DataServiceService>;

export const ALL_DATA_SCOPES = [
  'data:catalog.read',
  'data:catalog.write',
  'data:grants.read',
  'data:grants.write',
  'data:feeds.pull',
  'data:log.read',
];
export const ADMIN = { scopes: [...ALL_DATA_SCOPES, 'city:admin'] };

export async function startDataHarness(
  label: string,
  env: Record<string, string> = {},
): Promise<DataHarness> {
  return startServiceHarness({
    definition,
    grpcService: DataServiceService,
    label,
    env: () => ({ DATA_CHECKPOINT_INTERVAL_MS: '500', ...env }),
    scopes: ALL_DATA_SCOPES,
  });
}

/** A city admin's client (catalog, city grants, log export). */
export function adminClient(h: DataHarness): DataClient {
  return h.client(DataServiceService, () => h.issuer.metadata({ ...ADMIN, sub: 'city-admin' }));
}

/** A fact table of the data store's convention (seq identity, txid of the writing transaction). */
export async function createFactTable(h: DataHarness, table: string): Promise<void> {
  await h.pg.query(`
    CREATE TABLE ${table} (
      seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      txid xid8 NOT NULL DEFAULT pg_current_xact_id(),
      operator_id text NOT NULL,
      project_id text NOT NULL,
      district text NOT NULL,
      payer_phone text,
      amount_minor bigint NOT NULL,
      paid_at timestamptz NOT NULL,
      address text,
      note text,
      secret_code text
    )`);
}

export interface FactRow {
  operator_id: string;
  project_id: string;
  district: string;
  payer_phone?: string;
  amount_minor: bigint;
  paid_at: Date;
  address?: string;
  note?: string;
  secret_code?: string;
}

export async function insertRows(h: DataHarness, table: string, rows: FactRow[]): Promise<void> {
  for (let i = 0; i < rows.length; i += 500) {
    const chunk = rows.slice(i, i + 500);
    const values: unknown[] = [];
    const tuples = chunk.map((r, j) => {
      values.push(
        r.operator_id,
        r.project_id,
        r.district,
        r.payer_phone ?? null,
        r.amount_minor.toString(),
        r.paid_at,
        r.address ?? null,
        r.note ?? null,
        r.secret_code ?? null,
      );
      const b = j * 9;
      return `(${Array.from({ length: 9 }, (_, k) => `$${b + k + 1}`).join(', ')})`;
    });
    await h.pg.query(
      `INSERT INTO ${table} (operator_id, project_id, district, payer_phone, amount_minor, paid_at, address, note, secret_code)
       VALUES ${tuples.join(', ')}`,
      values,
    );
  }
}

/** Waits until every row of the table is below a fresh snapshot's xmin (servable), whatever else runs on the server. */
export async function waitServable(h: DataHarness, table: string): Promise<void> {
  await waitFor(
    `rows of ${table} servable`,
    async () => {
      const { rows } = await h.pg.query<{ ok: boolean }>(
        `SELECT coalesce(max(txid) < pg_snapshot_xmin(pg_current_snapshot()), true) AS ok FROM ${table}`,
      );
      return rows[0]?.ok ? true : undefined;
    },
    60_000,
    100,
  );
}

export const FIELDS = [
  { name: 'operator_id', classification: Classification.CLASSIFICATION_INTERNAL },
  { name: 'project_id', classification: Classification.CLASSIFICATION_INTERNAL },
  { name: 'district', classification: Classification.CLASSIFICATION_PUBLIC },
  { name: 'payer_phone', classification: Classification.CLASSIFICATION_PERSONAL },
  { name: 'amount_minor', classification: Classification.CLASSIFICATION_INTERNAL },
  { name: 'paid_at', classification: Classification.CLASSIFICATION_INTERNAL },
  { name: 'address', classification: Classification.CLASSIFICATION_PERSONAL },
  { name: 'note', classification: Classification.CLASSIFICATION_PUBLIC, freeText: true },
  { name: 'secret_code', classification: Classification.CLASSIFICATION_SENSITIVE },
].map((f) => ({ description: '', freeText: false, ...f }));

export async function registerDataset(admin: DataClient, datasetId: string, table: string, fields = FIELDS) {
  return (
    await admin.registerDataset({
      requestId: uniqueName('reg'),
      datasetId,
      title: `Test ${table}`,
      description: 'rows made by the test',
      sourceTable: table,
      owner: 'test',
      updateFrequency: 'continuous',
      fields,
    })
  ).dataset!;
}

const DAY = 86_400_000;

export function grantRequest(
  over: Partial<IssueGrantRequest> & { datasetId: string; fields: GrantedField[] },
): IssueGrantRequest {
  const { datasetId, fields, ...rest } = over as Partial<IssueGrantRequest> & {
    datasetId: string;
    fields: GrantedField[];
  };
  return {
    requestId: uniqueName('grant'),
    tenancy: { operatorId: '', projectId: '', merchantId: '' },
    agencyId: 'agency-tax',
    agencyClientId: 'agency-client',
    datasets: [{ datasetId, fields }],
    rowFilter: { districts: [], projectIds: [] },
    purpose: 'tax assessment',
    validFrom: toTimestamp(new Date(Date.now() - 60_000)),
    validUntil: toTimestamp(new Date(Date.now() + DAY)),
    quotaRowsPerDay: 1_000_000n,
    ...rest,
  };
}

export const f = (name: string, masking: Masking): GrantedField => ({ name, masking });

export interface PullResult {
  rows: Record<string, unknown>[];
  lines: string[];
  manifest?: FeedManifest;
  evidence?: string;
  error?: grpc.ServiceError;
}

/** A raw client of DataService for the server-streaming PullFeed. */
export function streamingClient(h: DataHarness): grpc.Client & {
  pullFeed(req: PullFeedRequest, md: grpc.Metadata): grpc.ClientReadableStream<PullFeedResponse>;
} {
  const Ctor = grpc.makeGenericClientConstructor(DataServiceService, 'DataService');
  const c = new Ctor(h.svc.grpcAddress, grpc.credentials.createInsecure());
  h.onStop(() => c.close());
  return c as never;
}

/** One whole pull over gRPC: its rows, manifest and evidence, or the status it ended with. */
export function pull(
  client: ReturnType<typeof streamingClient>,
  md: grpc.Metadata,
  req: Partial<PullFeedRequest> & { grantId: string; datasetId: string },
  onFirstRows?: (stream: grpc.ClientReadableStream<PullFeedResponse>) => void,
): Promise<PullResult> {
  const out: PullResult = { rows: [], lines: [] };
  return new Promise((resolve) => {
    const stream = client.pullFeed({ cursor: '', limit: 0n, filters: [], groupBy: [], ...req }, md);
    let first = true;
    stream.on('data', (m: PullFeedResponse) => {
      if (m.item?.$case === 'rows') {
        out.lines.push(...m.item.value.rows);
        out.rows.push(...m.item.value.rows.map((r) => JSON.parse(r) as Record<string, unknown>));
        if (first && onFirstRows) {
          first = false;
          onFirstRows(stream);
        }
      } else if (m.item?.$case === 'manifest') out.manifest = m.item.value;
      else if (m.item?.$case === 'evidenceJson') out.evidence = m.item.value;
    });
    stream.on('error', (err: grpc.ServiceError) => {
      out.error = err;
      resolve(out);
    });
    stream.on('end', () => resolve(out));
  });
}
