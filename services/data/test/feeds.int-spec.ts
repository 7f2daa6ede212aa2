import { createHash } from 'node:crypto';
import type * as grpc from '@grpc/grpc-js';
import { toTimestamp } from '@citybase/platform';
import { uniqueName, waitFor } from '@citybase/platform/testing';
import { Classification, GrantStatus, Masking } from '@citybase/contracts/citybase/data/v1/data';
import {
  adminClient,
  ALL_DATA_SCOPES,
  createFactTable,
  DataClient,
  DataHarness,
  errorCode,
  errorField,
  f,
  FactRow,
  FIELDS,
  grantRequest,
  grpcError,
  insertRows,
  pull,
  registerDataset,
  startDataHarness,
  status,
  streamingClient,
  waitServable,
} from './feeds-harness';

const OP_A = 'op-feed-a';
const OP_B = 'op-feed-b';
const AGENCY_CLIENT = 'agency-client';

const row = (i: number, over: Partial<FactRow> = {}): FactRow => ({
  operator_id: i % 2 === 0 ? OP_A : OP_B,
  project_id: `proj-${i % 3}`,
  district: i % 4 === 0 ? 'Futian' : 'Nanshan',
  payer_phone: `1380013${String(i).padStart(4, '0')}`,
  amount_minor: BigInt(1234 + i),
  paid_at: new Date(Date.UTC(2026, 10, 15, 8, 0, i % 60)),
  address: `${i} Shennan Road`,
  note: 'paid at the gate',
  secret_code: `S${i}`,
  ...over,
});

describe('data: catalog, grants and feeds (in-process service)', () => {
  let h: DataHarness;
  let admin: DataClient;
  let opA: DataClient;
  let stream: ReturnType<typeof streamingClient>;
  const agency = () =>
    h.issuer.metadata({ scopes: ['data:feeds.pull', 'data:grants.read'], sub: AGENCY_CLIENT });
  const otherAgency = () => h.issuer.metadata({ scopes: ['data:feeds.pull'], sub: 'other-agency-client' });

  beforeAll(async () => {
    h = await startDataHarness('feeds', { DATA_FEED_BATCH_ROWS: '10' });
    admin = adminClient(h);
    opA = h.clientOf({ operators: [OP_A] }, ALL_DATA_SCOPES);
    stream = streamingClient(h);
  });

  afterAll(async () => {
    if (process.env.DATA_TEST_ERRORS)
      process.stderr.write(
        h.svc
          .output()
          .split('\n')
          .filter((l) => l.includes('error_id'))
          .join('\n'),
      );
    await h?.stop();
  });

  /** A fresh fact table with `rows`, registered as a dataset; returns its dataset id. */
  const dataset = async (rows: FactRow[]) => {
    const table = uniqueName('fact').replace(/[^a-z0-9_]/g, '_');
    await createFactTable(h, table);
    await insertRows(h, table, rows);
    await waitServable(h, table);
    const id = `test.${table}`;
    await registerDataset(admin, id, table);
    return { id, table };
  };

  describe('catalog', () => {
    it('registers a table of the convention with its types; only a city admin may; a non-fact table is refused', async () => {
      const { id } = await dataset([row(1)]);
      const d = (await admin.getDataset({ datasetId: id })).dataset!;
      expect(d.fields.map((x) => [x.name, x.type])).toEqual([
        ['operator_id', 'string'],
        ['project_id', 'string'],
        ['district', 'string'],
        ['payer_phone', 'string'],
        ['amount_minor', 'int64'],
        ['paid_at', 'timestamp'],
        ['address', 'string'],
        ['note', 'string'],
        ['secret_code', 'string'],
      ]);
      expect(d).toMatchObject({ hasOperator: true, hasProject: true, hasDistrict: true, version: 1n });
      expect((await admin.listDatasets({ page: undefined })).datasets.map((x) => x.datasetId)).toContain(id);

      const err = await grpcError(
        opA.registerDataset({
          requestId: uniqueName('r'),
          datasetId: 'test.nope',
          title: 't',
          description: '',
          sourceTable: 'outbox',
          owner: 'o',
          updateFrequency: 'daily',
          fields: [
            {
              name: 'topic',
              classification: Classification.CLASSIFICATION_PUBLIC,
              description: '',
              freeText: false,
            },
          ],
        }),
      );
      expect(err.code).toBe(status.PERMISSION_DENIED);
      await h.pg.query(`CREATE TABLE plain_table (id int, v text)`);
      const bad = await grpcError(
        admin.registerDataset({
          requestId: uniqueName('r'),
          datasetId: 'test.plain',
          title: 't',
          description: '',
          sourceTable: 'plain_table',
          owner: 'o',
          updateFrequency: 'daily',
          fields: [
            {
              name: 'v',
              classification: Classification.CLASSIFICATION_PUBLIC,
              description: '',
              freeText: true,
            },
          ],
        }),
      );
      expect([bad.code, errorField(bad), errorCode(bad)]).toEqual([
        status.INVALID_ARGUMENT,
        'source_table',
        'TABLE_NOT_A_FACT_TABLE',
      ]);
    });

    it('the PII scan blocks a public free-text field holding phone numbers, ID numbers or plates until it is classified', async () => {
      const { id } = await dataset([
        row(1, { note: 'call 13912345678 at the gate' }),
        row(2, { note: 'owner id 11010519491231002X' }),
        row(3, { note: 'car 粤B·12345 left' }),
        row(4, { note: 'nothing personal' }),
      ]);
      const d = (await admin.getDataset({ datasetId: id })).dataset!;
      const note = d.fields.find((x) => x.name === 'note')!;
      expect(note.exportBlocked).toBe(true);
      expect(note.piiFindings.map((p) => [p.kind, p.rows]).sort()).toEqual([
        ['id_number', 1n],
        ['mobile', 1n],
        ['plate', 1n],
      ]);
      // the personal phone field has findings too, but its classification admits them
      expect(d.fields.find((x) => x.name === 'payer_phone')!.exportBlocked).toBe(false);

      const refused = await grpcError(
        admin.issueGrant(grantRequest({ datasetId: id, fields: [f('note', Masking.MASKING_CLEAR)] })),
      );
      expect([refused.code, errorCode(refused)]).toEqual([status.FAILED_PRECONDITION, 'FIELD_BLOCKED']);
      expect(refused.details).toContain('note');

      const classified = (
        await admin.classifyField({
          requestId: uniqueName('c'),
          datasetId: id,
          field: 'note',
          classification: Classification.CLASSIFICATION_PERSONAL,
        })
      ).dataset!;
      expect(classified.fields.find((x) => x.name === 'note')!.exportBlocked).toBe(false);
      expect(classified.version).toBe(2n);
      // a new scan of a personal field does not block it again
      const rescanned = (await admin.scanDataset({ requestId: uniqueName('s'), datasetId: id })).dataset!;
      expect(rescanned.fields.find((x) => x.name === 'note')!.exportBlocked).toBe(false);
      await admin.issueGrant(grantRequest({ datasetId: id, fields: [f('note', Masking.MASKING_HASH)] }));
    });
  });

  it("the store's fact tables are datasets; the tax agency pulls settlement's tax records", async () => {
    const ids = (await admin.listDatasets({ page: { pageSize: 100, pageToken: '' } })).datasets.map(
      (d) => d.datasetId,
    );
    expect(ids).toEqual(
      expect.arrayContaining([
        'iot.events',
        'marketing.coupon_claims',
        'marketing.coupon_redemptions',
        'payment.payments',
        'payment.refunds',
        'points.movements',
        'settlement.escrow',
        'settlement.tax_records',
      ]),
    );
    await h.pg.query(
      `INSERT INTO fact_tax_record (event_id, occurred_at, operator_id, project_id, merchant_id, district, order_id,
                                    taxable_turnover_minor, tax_minor, currency)
       VALUES (gen_random_uuid(), now(), $1, 'proj-tax', 'merchant-1', 'Futian', 'order-1', 10000, 600, 'CNY'),
              (gen_random_uuid(), now(), $2, 'proj-tax', 'merchant-2', 'Futian', 'order-2', 20000, 1200, 'CNY')`,
      [OP_A, OP_B],
    );
    await waitServable(h, 'fact_tax_record');
    const grant = (
      await admin.issueGrant(
        grantRequest({
          datasetId: 'settlement.tax_records',
          agencyId: 'agency-tax',
          fields: [
            f('merchant_id', Masking.MASKING_CLEAR),
            f('order_id', Masking.MASKING_HASH),
            f('taxable_turnover_minor', Masking.MASKING_CLEAR),
            f('tax_minor', Masking.MASKING_CLEAR),
            f('occurred_at', Masking.MASKING_MONTH),
          ],
        }),
      )
    ).grant!;
    const r = await pull(stream, agency(), { grantId: grant.grantId, datasetId: 'settlement.tax_records' });
    expect(r.error).toBeUndefined();
    expect(r.rows.map((x) => [x.merchant_id, x.taxable_turnover_minor, x.tax_minor])).toEqual([
      ['merchant-1', '10000', '600'],
      ['merchant-2', '20000', '1200'],
    ]);
  });

  describe('grants and pulls', () => {
    const rows = Array.from({ length: 40 }, (_, i) => row(i));
    let id: string;
    beforeAll(async () => {
      ({ id } = await dataset(rows));
    });

    it("an operator's grant: the agency sees only the granted fields, masked as granted, only the operator's rows its filter allows", async () => {
      const grant = (
        await opA.issueGrant(
          grantRequest({
            tenancy: { operatorId: OP_A, projectId: '', merchantId: '' },
            datasetId: id,
            fields: [
              f('district', Masking.MASKING_CLEAR),
              f('project_id', Masking.MASKING_CLEAR),
              f('payer_phone', Masking.MASKING_LAST4),
              f('amount_minor', Masking.MASKING_AMOUNT_BAND),
              f('paid_at', Masking.MASKING_MONTH),
              f('address', Masking.MASKING_DISTRICT),
              f('secret_code', Masking.MASKING_HASH),
              f('note', Masking.MASKING_DROP),
            ],
            rowFilter: { districts: ['Futian'], projectIds: [] },
          }),
        )
      ).grant!;
      expect(grant).toMatchObject({
        status: GrantStatus.GRANT_STATUS_ACTIVE,
        version: 1n,
        agencyClientId: AGENCY_CLIENT,
      });

      const r = await pull(stream, agency(), { grantId: grant.grantId, datasetId: id });
      expect(r.error).toBeUndefined();
      const expected = rows.filter((x) => x.operator_id === OP_A && x.district === 'Futian');
      expect(r.rows).toHaveLength(expected.length);
      expect(r.rows.length).toBeGreaterThan(0);
      for (const [k, got] of r.rows.entries()) {
        const src = expected[k]!;
        expect(Object.keys(got).sort()).toEqual([
          'address',
          'amount_minor',
          'district',
          'paid_at',
          'payer_phone',
          'project_id',
          'secret_code',
        ]);
        expect(got.payer_phone).toBe(`****${src.payer_phone!.slice(-4)}`);
        expect(got.amount_minor).toBe('1000-9999');
        expect(got.paid_at).toBe('2026-11');
        expect(got.address).toBe('Futian');
        expect(got.secret_code).toMatch(/^[0-9a-f]{64}$/);
        expect(got.secret_code).not.toBe(createHash('sha256').update(src.secret_code!).digest('hex'));
      }
      const body = r.lines.map((l) => `${l}\n`).join('');
      expect(r.manifest).toMatchObject({ rows: BigInt(expected.length), grantVersion: 1n, datasetId: id });
      expect(r.manifest!.sha256).toBe(createHash('sha256').update(body).digest('hex'));
      const evidence = JSON.parse(r.evidence!) as {
        manifest_hash: string;
        grant_version: number;
        entry: { kind: string };
      };
      expect(evidence).toMatchObject({ grant_version: 1, entry: { kind: 'pull.closed' } });

      // the same value hashes differently under another grant (per-grant salt)
      const other = (
        await opA.issueGrant(
          grantRequest({
            tenancy: { operatorId: OP_A, projectId: '', merchantId: '' },
            datasetId: id,
            fields: [f('secret_code', Masking.MASKING_HASH)],
            rowFilter: { districts: ['Futian'], projectIds: [] },
          }),
        )
      ).grant!;
      const r2 = await pull(stream, agency(), { grantId: other.grantId, datasetId: id });
      expect(r2.rows.map((x) => x.secret_code)).not.toEqual(r.rows.map((x) => x.secret_code));

      // another client than the grant's agency gets nothing, as if the grant did not exist
      const foreign = await pull(stream, otherAgency(), { grantId: grant.grantId, datasetId: id });
      expect([foreign.error?.code, foreign.rows]).toEqual([status.NOT_FOUND, []]);
      // an operator cannot grant another operator's rows, nor the city's
      const forbidden = await grpcError(
        opA.issueGrant(
          grantRequest({
            tenancy: { operatorId: OP_B, projectId: '', merchantId: '' },
            datasetId: id,
            fields: [f('district', Masking.MASKING_CLEAR)],
          }),
        ),
      );
      expect(forbidden.code).toBe(status.PERMISSION_DENIED);
      const city = await grpcError(
        opA.issueGrant(grantRequest({ datasetId: id, fields: [f('district', Masking.MASKING_CLEAR)] })),
      );
      expect([city.code, errorCode(city)]).toEqual([status.PERMISSION_DENIED, 'CITY_GRANT_NEEDS_CITY_ADMIN']);
      // a sensitive field is never granted in clear
      const clear = await grpcError(
        admin.issueGrant(grantRequest({ datasetId: id, fields: [f('secret_code', Masking.MASKING_CLEAR)] })),
      );
      expect([clear.code, errorField(clear)]).toEqual([
        status.INVALID_ARGUMENT,
        'datasets[0].fields[0].masking',
      ]);
    });

    it('pulls only inside the validity window', async () => {
      const future = (
        await admin.issueGrant(
          grantRequest({
            datasetId: id,
            fields: [f('district', Masking.MASKING_CLEAR)],
            validFrom: toTimestamp(new Date(Date.now() + 3_600_000)),
            validUntil: toTimestamp(new Date(Date.now() + 7_200_000)),
          }),
        )
      ).grant!;
      const early = await pull(stream, agency(), { grantId: future.grantId, datasetId: id });
      expect([early.error?.code, errorCode(early.error!), early.rows]).toEqual([
        status.PERMISSION_DENIED,
        'GRANT_NOT_YET_VALID',
        [],
      ]);

      const past = (
        await admin.issueGrant(
          grantRequest({
            datasetId: id,
            fields: [f('district', Masking.MASKING_CLEAR)],
            validFrom: toTimestamp(new Date(Date.now() - 7_200_000)),
            validUntil: toTimestamp(new Date(Date.now() - 3_600_000)),
          }),
        )
      ).grant!;
      expect(past.status).toBe(GrantStatus.GRANT_STATUS_EXPIRED);
      const late = await pull(stream, agency(), { grantId: past.grantId, datasetId: id });
      expect([late.error?.code, errorCode(late.error!), late.rows]).toEqual([
        status.PERMISSION_DENIED,
        'GRANT_EXPIRED',
        [],
      ]);
    });

    it('a masked field can be neither filtered nor grouped by: INVALID_ARGUMENT naming it; a clear one can', async () => {
      const grant = (
        await admin.issueGrant(
          grantRequest({
            datasetId: id,
            fields: [
              f('district', Masking.MASKING_CLEAR),
              f('payer_phone', Masking.MASKING_LAST4),
              f('project_id', Masking.MASKING_CLEAR),
            ],
          }),
        )
      ).grant!;
      const filtered = await pull(stream, agency(), {
        grantId: grant.grantId,
        datasetId: id,
        filters: [{ field: 'payer_phone', values: ['13800130000'] }],
      });
      expect([
        filtered.error?.code,
        errorField(filtered.error!),
        errorCode(filtered.error!),
        filtered.rows,
      ]).toEqual([status.INVALID_ARGUMENT, 'filters[0].field', 'MASKED_FIELD_IN_QUERY', []]);
      expect(filtered.error!.details).toContain('payer_phone');
      const grouped = await pull(stream, agency(), {
        grantId: grant.grantId,
        datasetId: id,
        groupBy: ['payer_phone'],
      });
      expect([grouped.error?.code, errorField(grouped.error!)]).toEqual([
        status.INVALID_ARGUMENT,
        'group_by[0]',
      ]);

      const ok = await pull(stream, agency(), {
        grantId: grant.grantId,
        datasetId: id,
        filters: [{ field: 'district', values: ['Futian'] }],
      });
      expect(ok.rows).toHaveLength(rows.filter((x) => x.district === 'Futian').length);
      const groups = await pull(stream, agency(), {
        grantId: grant.grantId,
        datasetId: id,
        groupBy: ['district'],
      });
      expect(groups.rows).toEqual([
        { district: 'Futian', count: rows.filter((x) => x.district === 'Futian').length },
        { district: 'Nanshan', count: rows.filter((x) => x.district === 'Nanshan').length },
      ]);
    });

    it('over quota: RESOURCE_EXHAUSTED with retry-after; the pull before it stopped at the quota', async () => {
      const grant = (
        await admin.issueGrant(
          grantRequest({
            datasetId: id,
            fields: [f('district', Masking.MASKING_CLEAR)],
            quotaRowsPerDay: 15n,
          }),
        )
      ).grant!;
      const first = await pull(stream, agency(), { grantId: grant.grantId, datasetId: id });
      expect(first.rows).toHaveLength(15);
      const next = await pull(stream, agency(), {
        grantId: grant.grantId,
        datasetId: id,
        cursor: first.manifest!.nextCursor,
      });
      expect([next.error?.code, errorCode(next.error!), next.rows]).toEqual([
        status.RESOURCE_EXHAUSTED,
        'QUOTA_EXHAUSTED',
        [],
      ]);
      const retryAfter = Number(next.error!.metadata.get('retry-after')[0]);
      expect(retryAfter).toBeGreaterThan(0);
      expect(retryAfter).toBeLessThanOrEqual(86_400);
    });

    it('pulls over HTTP as NDJSON and CSV, with the manifest in the trailers and the evidence by pull id', async () => {
      const grant = (
        await admin.issueGrant(
          grantRequest({
            datasetId: id,
            fields: [
              f('district', Masking.MASKING_CLEAR),
              f('note', Masking.MASKING_DROP),
              f('payer_phone', Masking.MASKING_LAST4),
            ],
          }),
        )
      ).grant!;
      const auth = { authorization: agency().get('authorization')[0] as string };
      const url = `${h.svc.httpUrl}/feeds/${grant.grantId}/${id}`;
      const res = await fetch(url, { headers: auth });
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toContain('application/x-ndjson');
      const pullId = res.headers.get('x-citybase-pull-id');
      const body = await res.text();
      const lines = body.trimEnd().split('\n');
      expect(lines).toHaveLength(rows.length);
      expect(JSON.parse(lines[0]!)).toEqual({ district: 'Futian', payer_phone: '****0000' });
      // the pull id travels in the trailers, which fetch does not expose: find it by the evidence of this body's hash
      const sha = createHash('sha256').update(body).digest('hex');
      const { rows: pulls } = await h.pg.query<{ pull_id: string }>(
        `SELECT pull_id FROM pulls WHERE manifest->>'sha256' = $1 AND grant_id = $2`,
        [sha, grant.grantId],
      );
      expect(pullId ?? pulls[0]?.pull_id).toBeDefined();
      const ev = await fetch(`${h.svc.httpUrl}/feeds/pulls/${pulls[0]!.pull_id}/evidence`, { headers: auth });
      const evidence = (await ev.json()) as { manifest: { rows: number; sha256: string; format: string } };
      expect(evidence.manifest).toMatchObject({ rows: rows.length, sha256: sha, format: 'NDJSON' });

      const csv = await fetch(`${url}?format=csv&limit=3`, { headers: auth });
      expect(csv.headers.get('content-type')).toContain('text/csv');
      expect((await csv.text()).split('\n')).toEqual([
        'district,payer_phone',
        'Futian,****0000',
        'Nanshan,****0001',
        'Nanshan,****0002',
        '',
      ]);

      expect((await fetch(url)).status).toBe(401);
      const masked = await fetch(`${url}?filter=payer_phone:1`, { headers: auth });
      expect(masked.status).toBe(400);
      expect(((await masked.json()) as { field: string }).field).toBe('filters[0].field');

      const small = (
        await admin.issueGrant(
          grantRequest({
            datasetId: id,
            fields: [f('district', Masking.MASKING_CLEAR)],
            quotaRowsPerDay: 1n,
          }),
        )
      ).grant!;
      await (await fetch(`${h.svc.httpUrl}/feeds/${small.grantId}/${id}`, { headers: auth })).text();
      const over = await fetch(`${h.svc.httpUrl}/feeds/${small.grantId}/${id}`, { headers: auth });
      expect(over.status).toBe(429);
      expect(Number(over.headers.get('retry-after'))).toBeGreaterThan(0);
    });
  });

  it('a cursor never skips nor repeats a row when a transaction commits a lower seq after a higher one', async () => {
    const { id, table } = await dataset([row(0)]);
    const grant = (
      await admin.issueGrant(grantRequest({ datasetId: id, fields: [f('note', Masking.MASKING_CLEAR)] }))
    ).grant!;
    // note is public free text: classified after the scan found nothing personal in it
    const first = await pull(stream, agency(), { grantId: grant.grantId, datasetId: id });
    expect(first.rows.map((x) => x.note)).toEqual(['paid at the gate']);
    let cursor = first.manifest!.nextCursor;

    const slow = await h.pool.connect();
    const fast = await h.pool.connect();
    const seen: string[] = [];
    try {
      await slow.query('BEGIN');
      await slow.query(
        `INSERT INTO ${table} (operator_id, project_id, district, amount_minor, paid_at, note) VALUES ($1, 'p', 'Futian', 1, now(), 'lower seq, commits last')`,
        [OP_A],
      );
      await fast.query('BEGIN');
      await fast.query(
        `INSERT INTO ${table} (operator_id, project_id, district, amount_minor, paid_at, note) VALUES ($1, 'p', 'Futian', 2, now(), 'higher seq, commits first')`,
        [OP_A],
      );
      await fast.query('COMMIT');
      const seqs = await h.pg.query<{ seq: string; note: string }>(
        `SELECT seq::text, note FROM ${table} ORDER BY seq`,
      );
      expect(seqs.rows.map((r) => r.note)).toEqual(['paid at the gate', 'higher seq, commits first']);

      // while the lower seq is uncommitted, the higher one is held back (a seq cursor would move past the lower one here)
      const during = await pull(stream, agency(), { grantId: grant.grantId, datasetId: id, cursor });
      expect(during.rows).toEqual([]);
      seen.push(...during.rows.map((x) => x.note as string));
      cursor = during.manifest!.nextCursor;
      await slow.query('COMMIT');
    } finally {
      slow.release();
      fast.release();
    }
    await waitServable(h, table);
    const after = await pull(stream, agency(), { grantId: grant.grantId, datasetId: id, cursor });
    seen.push(...after.rows.map((x) => x.note as string));
    expect(seen.sort()).toEqual(['higher seq, commits first', 'lower seq, commits last']);
    const again = await pull(stream, agency(), {
      grantId: grant.grantId,
      datasetId: id,
      cursor: after.manifest!.nextCursor,
    });
    expect(again.rows).toEqual([]);
  });

  it("a column of PostgreSQL's json type (its text kept verbatim, line breaks too) is one row in every format", async () => {
    const { id, table } = await dataset([row(0), row(1)]);
    await h.pg.query(`ALTER TABLE ${table} ADD COLUMN attrs json`);
    await h.pg.query(`UPDATE ${table} SET attrs = $1::json`, [
      '{\n  "bays": 2,\n  "note": "line\\nbreak"\n}',
    ]);
    await waitServable(h, table);
    await registerDataset(admin, id, table, [
      ...FIELDS,
      {
        name: 'attrs',
        classification: Classification.CLASSIFICATION_INTERNAL,
        description: '',
        freeText: false,
      },
    ]);
    const grant = (
      await admin.issueGrant(
        grantRequest({
          datasetId: id,
          fields: [f('district', Masking.MASKING_CLEAR), f('attrs', Masking.MASKING_CLEAR)],
        }),
      )
    ).grant!;
    const attrs = { bays: 2, note: 'line\nbreak' };
    const r = await pull(stream, agency(), { grantId: grant.grantId, datasetId: id });
    expect(r.rows).toEqual([
      { district: 'Futian', attrs },
      { district: 'Nanshan', attrs },
    ]);
    const auth = { authorization: agency().get('authorization')[0] as string };
    const url = `${h.svc.httpUrl}/feeds/${grant.grantId}/${id}`;
    const ndjson = (await (await fetch(url, { headers: auth })).text()).trimEnd().split('\n');
    expect(ndjson.map((l) => JSON.parse(l) as unknown)).toEqual(r.rows);
    const csv = (await (await fetch(`${url}?format=csv`, { headers: auth })).text()).split('\n');
    expect(csv).toHaveLength(4); // header, two rows, the empty string after the last line break
    expect(csv[0]).toBe('district,attrs');
  });

  it('revocation stops a pull under way: the stream ends PERMISSION_DENIED without a manifest', async () => {
    const { id } = await dataset(Array.from({ length: 3000 }, (_, i) => row(i, { note: 'x'.repeat(200) })));
    const grant = (
      await admin.issueGrant(
        grantRequest({
          datasetId: id,
          fields: [f('district', Masking.MASKING_CLEAR), f('address', Masking.MASKING_CLEAR)],
        }),
      )
    ).grant!;
    let revoked: Promise<unknown> | undefined;
    const r = await pull(
      stream,
      agency(),
      { grantId: grant.grantId, datasetId: id },
      (s: grpc.ClientReadableStream<unknown>) => {
        s.pause();
        revoked = admin
          .revokeGrant({ requestId: uniqueName('rev'), grantId: grant.grantId, reason: 'purpose ended' })
          .then(() => s.resume());
      },
    );
    await revoked;
    expect([r.error?.code, errorCode(r.error!), r.manifest]).toEqual([
      status.PERMISSION_DENIED,
      'GRANT_REVOKED',
      undefined,
    ]);
    expect(r.rows.length).toBeGreaterThan(0);
    expect(r.rows.length).toBeLessThan(3000);
    const g = (await admin.getGrant({ grantId: grant.grantId })).grant!;
    expect([g.status, g.version, g.revokeReason]).toEqual([
      GrantStatus.GRANT_STATUS_REVOKED,
      2n,
      'purpose ended',
    ]);
    const after = await pull(stream, agency(), { grantId: grant.grantId, datasetId: id });
    expect([after.error?.code, after.rows]).toEqual([status.PERMISSION_DENIED, []]);
    const kinds = await h.pg.query<{ kind: string }>(
      `SELECT kind FROM access_log WHERE body LIKE $1 ORDER BY seq`,
      [`%${grant.grantId}%`],
    );
    expect(kinds.rows.map((k) => k.kind)).toEqual([
      'grant.issued',
      'pull.opened',
      'grant.revoked',
      'pull.aborted',
    ]);
  });

  it('fails closed: no access-log entry, no rows; no closing entry, no manifest', async () => {
    const { id } = await dataset([row(0), row(1)]);
    const grant = (
      await admin.issueGrant(grantRequest({ datasetId: id, fields: [f('district', Masking.MASKING_CLEAR)] }))
    ).grant!;
    await h.pg.query(
      `CREATE FUNCTION refuse_log() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'log disk full'; END $$`,
    );
    try {
      await h.pg.query(
        `CREATE TRIGGER refuse_open BEFORE INSERT ON access_log FOR EACH ROW WHEN (NEW.kind = 'pull.opened') EXECUTE FUNCTION refuse_log()`,
      );
      const none = await pull(stream, agency(), { grantId: grant.grantId, datasetId: id });
      expect([none.error?.code, none.rows, none.manifest]).toEqual([status.INTERNAL, [], undefined]);
      await h.pg.query(`DROP TRIGGER refuse_open ON access_log`);

      await h.pg.query(
        `CREATE TRIGGER refuse_close BEFORE INSERT ON access_log FOR EACH ROW WHEN (NEW.kind = 'pull.closed') EXECUTE FUNCTION refuse_log()`,
      );
      const unproven = await pull(stream, agency(), { grantId: grant.grantId, datasetId: id });
      expect([unproven.error?.code, unproven.manifest, unproven.evidence]).toEqual([
        status.INTERNAL,
        undefined,
        undefined,
      ]);
      await h.pg.query(`DROP TRIGGER refuse_close ON access_log`);
    } finally {
      await h.pg.query(
        `DROP TRIGGER IF EXISTS refuse_open ON access_log; DROP TRIGGER IF EXISTS refuse_close ON access_log; DROP FUNCTION refuse_log()`,
      );
    }
    const ok = await pull(stream, agency(), { grantId: grant.grantId, datasetId: id });
    expect(ok.rows).toHaveLength(2);
  });

  it('grant changes and pulls leave through the outbox to Kafka: GrantIssued, GrantRevoked, FeedPulled', async () => {
    await waitFor(
      'events published',
      async () => {
        const { rows } = await h.pg.query<{ event_type: string; n: number; pending: number }>(
          `SELECT event_type, count(*)::int AS n, count(*) FILTER (WHERE published_at IS NULL)::int AS pending FROM outbox GROUP BY event_type ORDER BY event_type`,
        );
        return rows.every((r) => r.pending === 0) && rows.length === 3 ? rows : undefined;
      },
      30_000,
      200,
    );
    const { rows } = await h.pg.query<{ event_type: string }>(
      `SELECT DISTINCT event_type FROM outbox ORDER BY event_type`,
    );
    expect(rows.map((r) => r.event_type)).toEqual([
      'citybase.data.v1.FeedPulled',
      'citybase.data.v1.GrantIssued',
      'citybase.data.v1.GrantRevoked',
    ]);
    // the access log's own rules: append-only in the database itself
    await expect(h.pg.query(`UPDATE access_log SET kind = 'x' WHERE seq = 1`)).rejects.toThrow(/append-only/);
    await expect(h.pg.query(`DELETE FROM access_log WHERE seq = 1`)).rejects.toThrow(/append-only/);
  });
});
