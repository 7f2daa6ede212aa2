// Part of `npm run bench -- data` (data.ts): feed_rows_per_s, an agency's masked NDJSON export of a fact table
// (default 1,000,000 rows) over the data service's HTTP port, with the masking the grant asks for
// (hash, last 4, month, amount band, clear, a dropped field), the access log written and the
// evidence made; next to the same rows read with a bare SELECT from the same database in the same
// run (baseline_pg_rows_per_s). The data-store's ingest figure is measured in the same bench.
import { createHash, randomUUID } from 'node:crypto';
import { Client } from 'pg';
import { Classification, DataServiceService, Masking } from '@citybase/contracts/citybase/data/v1/data';
import { grpcClient, spawnService, TestIssuer, uniqueName } from '@citybase/platform/testing';
import {
  benchDatabase,
  benchKafka,
  benchLogger,
  Cleanup,
  Figure,
  note,
  now,
  processUsage,
  profiledSpawn,
  withAdmin,
} from './common';
import { intFromEnv, perSecond, round } from './stats';

export interface FeedBenchParams {
  rows: number;
  batchRows: number;
}

export function feedBenchParams(env: NodeJS.ProcessEnv): FeedBenchParams {
  return {
    rows: intFromEnv(env, 'BENCH_FEED_ROWS', 1_000_000),
    batchRows: intFromEnv(env, 'BENCH_FEED_BATCH_ROWS', 10_000),
  };
}

const TABLE = 'bench_feed_fact';
const AGENCY = 'bench-agency-client';

/**
 * feed_rows_per_s and its baseline, measured against a data service it spawns on a database of its
 * own: the figures, the parameters and the spawned process's usage.
 */
export async function feedRowsPerS(
  cleanup: Cleanup,
  p: FeedBenchParams = feedBenchParams(process.env),
): Promise<{ figures: Figure[]; params: Record<string, unknown>; usage: ReturnType<typeof processUsage> }> {
  const { db, synchronousCommit } = await benchDatabase('bench_data_feed', cleanup);
  const issuer = await TestIssuer.start();
  cleanup.add('token issuer', () => issuer.stop());
  const topicPrefix = `${uniqueName('benchdata')}.`;
  const kafka = benchKafka(benchLogger(), 'bench-data');
  cleanup.add(`delete topics ${topicPrefix}*`, () =>
    withAdmin(kafka, async (admin) => {
      const ours = (await admin.listTopics()).filter((t) => t.startsWith(topicPrefix));
      if (ours.length > 0) await admin.deleteTopics({ topics: ours, timeout: 30_000 });
    }),
  );
  const data = await spawnService(
    'data',
    {
      DATABASE_URL: db.url,
      DATABASE_POOL_SIZE: '10',
      KAFKA_TOPIC_PREFIX: topicPrefix,
      AUTH_JWKS_URL: issuer.jwksUrl,
      DATA_FEED_BATCH_ROWS: String(p.batchRows),
      LOG_LEVEL: process.env.BENCH_LOG_LEVEL ?? 'warn',
    },
    profiledSpawn(),
  );
  cleanup.add('data process', () => data.stop());
  await data.ready();

  note(`making ${p.rows} rows in ${TABLE}`);
  const pg = new Client({ connectionString: db.url });
  await pg.connect();
  cleanup.add('database connection', () => pg.end());
  await pg.query(`
    CREATE TABLE ${TABLE} (
      seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      txid xid8 NOT NULL DEFAULT pg_current_xact_id(),
      operator_id text NOT NULL, project_id text NOT NULL, district text NOT NULL,
      payer_phone text, amount_minor bigint NOT NULL, paid_at timestamptz NOT NULL,
      payment_id text NOT NULL, note text)`);
  await pg.query(
    `INSERT INTO ${TABLE} (operator_id, project_id, district, payer_phone, amount_minor, paid_at, payment_id, note)
     SELECT 'bench-op', 'proj-' || (i % 20), CASE WHEN i % 3 = 0 THEN 'Futian' ELSE 'Nanshan' END,
            '138' || lpad((i % 100000000)::text, 8, '0'), 100 + (i * 37) % 1000000,
            timestamptz '2026-01-01' + (i || ' seconds')::interval, 'pay-' || i, 'bench row'
       FROM generate_series(1, $1::int) AS i`,
    [p.rows],
  );
  await pg.query(`ANALYZE ${TABLE}`);
  // every row below the snapshot horizon (another transaction on the server may hold it back)
  for (;;) {
    const { rows } = await pg.query<{ ok: boolean }>(
      `SELECT max(txid) < pg_snapshot_xmin(pg_current_snapshot()) AS ok FROM ${TABLE}`,
    );
    if (rows[0]?.ok) break;
    await new Promise((r) => setTimeout(r, 200));
  }

  // the city's administrator: registers the table and grants it
  const admin = grpcClient(DataServiceService, data.grpcAddress, () =>
    issuer.metadata({ scopes: ['data:catalog.write', 'data:grants.write', 'city:admin'], sub: 'bench-city' }),
  );
  cleanup.add('gRPC client', () => Promise.resolve(admin.close()));
  const cls = (name: string, c: Classification) => ({
    name,
    classification: c,
    description: '',
    freeText: false,
  });
  await admin.registerDataset({
    requestId: randomUUID(),
    datasetId: 'bench.feed_fact',
    title: 'Bench facts',
    description: '',
    sourceTable: TABLE,
    owner: 'bench',
    updateFrequency: 'continuous',
    fields: [
      cls('operator_id', Classification.CLASSIFICATION_INTERNAL),
      cls('project_id', Classification.CLASSIFICATION_INTERNAL),
      cls('district', Classification.CLASSIFICATION_PUBLIC),
      cls('payer_phone', Classification.CLASSIFICATION_PERSONAL),
      cls('amount_minor', Classification.CLASSIFICATION_INTERNAL),
      cls('paid_at', Classification.CLASSIFICATION_INTERNAL),
      cls('payment_id', Classification.CLASSIFICATION_INTERNAL),
      cls('note', Classification.CLASSIFICATION_PUBLIC),
    ],
  });
  const m = (name: string, masking: Masking) => ({ name, masking });
  const t = Math.floor(Date.now() / 1000);
  const { grant } = await admin.issueGrant({
    requestId: randomUUID(),
    tenancy: { operatorId: '', projectId: '', merchantId: '' },
    agencyId: 'bench-agency',
    agencyClientId: AGENCY,
    datasets: [
      {
        datasetId: 'bench.feed_fact',
        fields: [
          m('operator_id', Masking.MASKING_CLEAR),
          m('project_id', Masking.MASKING_CLEAR),
          m('district', Masking.MASKING_CLEAR),
          m('payer_phone', Masking.MASKING_LAST4),
          m('amount_minor', Masking.MASKING_AMOUNT_BAND),
          m('paid_at', Masking.MASKING_MONTH),
          m('payment_id', Masking.MASKING_HASH),
          m('note', Masking.MASKING_DROP),
        ],
      },
    ],
    rowFilter: { districts: [], projectIds: [] },
    purpose: 'bench',
    validFrom: { seconds: BigInt(t - 60), nanos: 0 },
    validUntil: { seconds: BigInt(t + 86_400), nanos: 0 },
    quotaRowsPerDay: BigInt(p.rows * 10),
  });
  const auth = {
    authorization: issuer
      .metadata({ scopes: ['data:feeds.pull'], sub: AGENCY })
      .get('authorization')[0] as string,
  };

  // baseline: the same rows, bare, through one SELECT of the same database
  note('baseline: bare SELECT of the rows');
  const b0 = now();
  const { rowCount } = await pg.query(
    `SELECT seq, txid, operator_id, project_id, district, payer_phone, amount_minor, paid_at, payment_id FROM ${TABLE}`,
  );
  const baselineMs = now() - b0;

  note('feed: masked NDJSON export over HTTP');
  const url = `${data.httpUrl}/feeds/${grant!.grantId}/bench.feed_fact?limit=${p.rows}`;
  const t0 = now();
  const res = await fetch(url, { headers: auth });
  if (res.status !== 200 || !res.body) throw new Error(`feed answered ${res.status}: ${await res.text()}`);
  const hash = createHash('sha256');
  let bytes = 0;
  let lines = 0;
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
    hash.update(chunk);
    bytes += chunk.length;
    for (let at = chunk.indexOf(10); at !== -1; at = chunk.indexOf(10, at + 1)) lines++;
  }
  const feedMs = now() - t0;
  const sha = hash.digest('hex');
  const { rows: pulls } = await pg.query<{ rows: string; sha: string }>(
    `SELECT manifest->>'rows' AS rows, manifest->>'sha256' AS sha FROM pulls WHERE grant_id = $1 AND closed_seq IS NOT NULL`,
    [grant!.grantId],
  );
  if (lines !== p.rows || pulls[0]?.sha !== sha || Number(pulls[0]?.rows) !== p.rows)
    throw new Error(
      `feed served ${lines} lines (manifest ${pulls[0]?.rows}, sha ${pulls[0]?.sha === sha ? 'equal' : 'differs'}), expected ${p.rows}`,
    );

  const figures: Figure[] = [
    {
      name: 'feed_rows_per_s',
      value: round(perSecond(lines, feedMs), 0),
      unit: 'rows/s',
      how: `GET /feeds NDJSON of ${p.rows} rows, 6 of 8 fields masked (hash, last4, month, band, district clear, one dropped), manifest sha256 checked`,
    },
    {
      name: 'feed_mb_per_s',
      value: round(bytes / 1e6 / (feedMs / 1000), 1),
      unit: 'MB/s',
      how: 'NDJSON bytes of that pull',
    },
    {
      name: 'baseline_pg_rows_per_s',
      value: round(perSecond(rowCount ?? 0, baselineMs), 0),
      unit: 'rows/s',
      how: 'the same rows, unmasked, by one bare SELECT through node-postgres (same run)',
    },
  ];
  return {
    figures,
    params: { ...p, synchronous_commit: synchronousCommit },
    usage: processUsage(data.proc.pid!),
  };
}
