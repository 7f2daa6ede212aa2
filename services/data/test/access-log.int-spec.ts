// The access log verified offline by the operator's tool: `citybase feeds verify` (tools/cli, built)
// is spawned on an export and on evidence bundles, untouched and tampered with.
import { spawnSync } from 'node:child_process';
import { createHash, generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT, uniqueName } from '@citybase/platform/testing';
import { Masking } from '@citybase/contracts/citybase/data/v1/data';
import {
  adminClient,
  createFactTable,
  DataClient,
  DataHarness,
  f,
  grantRequest,
  insertRows,
  pull,
  registerDataset,
  startDataHarness,
  streamingClient,
  waitServable,
} from './feeds-harness';

type Doc = {
  entries: { seq: number; body: Record<string, unknown>; hash: string; prev_hash: string }[];
  public_key: string;
} & Record<string, unknown>;

const CLI = join(REPO_ROOT, 'tools/cli/bin/citybase.js');
const dir = mkdtempSync(join(tmpdir(), 'feeds-verify-'));

/** Runs `citybase feeds verify` on `doc` (and evidence); its exit code and report. */
function verify(
  doc: unknown,
  evidence: unknown[] = [],
  key?: string,
): { code: number | null; report: { verified: boolean; problems: string[] } } {
  const file = join(dir, `${uniqueName('export')}.json`);
  writeFileSync(file, JSON.stringify(doc));
  const args = [CLI, 'feeds', 'verify', file];
  for (const ev of evidence) {
    const evFile = join(dir, `${uniqueName('evidence')}.json`);
    writeFileSync(evFile, JSON.stringify(ev));
    args.push('--evidence', evFile);
  }
  if (key) args.push('--public-key', key);
  const run = spawnSync(process.execPath, args, { encoding: 'utf8' });
  if (run.stdout.trim() === '') throw new Error(`citybase feeds verify printed nothing: ${run.stderr}`);
  return { code: run.status, report: JSON.parse(run.stdout) as { verified: boolean; problems: string[] } };
}

describe('data: access log verified offline with `citybase feeds verify`', () => {
  let h: DataHarness;
  let admin: DataClient;
  let doc: Doc;
  let evidence: Record<string, unknown>;

  beforeAll(async () => {
    h = await startDataHarness('access-log');
    admin = adminClient(h);
    const table = 'fact_log_test';
    await createFactTable(h, table);
    await insertRows(
      h,
      table,
      [0, 1, 2].map((i) => ({
        operator_id: 'op',
        project_id: 'p',
        district: 'Futian',
        amount_minor: BigInt(i),
        paid_at: new Date(),
      })),
    );
    await waitServable(h, table);
    await registerDataset(admin, 'test.fact_log_test', table);
    const stream = streamingClient(h);
    const agency = h.issuer.metadata({ scopes: ['data:feeds.pull'], sub: 'agency-client' });
    const grants = [];
    for (let i = 0; i < 3; i++) {
      grants.push(
        (
          await admin.issueGrant(
            grantRequest({ datasetId: 'test.fact_log_test', fields: [f('district', Masking.MASKING_CLEAR)] }),
          )
        ).grant!,
      );
    }
    const r = await pull(stream, agency, { grantId: grants[0]!.grantId, datasetId: 'test.fact_log_test' });
    expect(r.rows).toHaveLength(3);
    evidence = JSON.parse(r.evidence!) as Record<string, unknown>;
    await pull(stream, agency, { grantId: grants[1]!.grantId, datasetId: 'test.fact_log_test' });
    await admin.revokeGrant({ requestId: uniqueName('rev'), grantId: grants[2]!.grantId, reason: 'done' });
    doc = JSON.parse((await admin.exportAccessLog({ fromSeq: 0n })).exportJson) as Doc;
  });

  afterAll(async () => {
    await h?.stop();
  });

  const copy = (): Doc => JSON.parse(JSON.stringify(doc)) as Doc;

  it('an untouched export with its evidence verifies, with the key pinned', () => {
    expect(doc.entries.map((e) => (e as unknown as { kind: string }).kind)).toEqual([
      'grant.issued',
      'grant.issued',
      'grant.issued',
      'pull.opened',
      'pull.closed',
      'pull.opened',
      'pull.closed',
      'grant.revoked',
    ]);
    const { code, report } = verify(doc, [evidence], doc.public_key);
    expect([code, report.problems]).toEqual([0, []]);
  });

  it('detects a changed entry', () => {
    const d = copy();
    d.entries[4]!.body.rows = 2;
    const { code, report } = verify(d);
    expect(code).toBe(3);
    expect(report.problems.join('\n')).toMatch(/entry seq 5: its hash does not match its content/);
  });

  it('detects a changed entry whose hash and every later link were recomputed (the signed checkpoints differ)', () => {
    const canonical = (v: unknown): string =>
      v === null || typeof v !== 'object'
        ? JSON.stringify(v)
        : Array.isArray(v)
          ? `[${v.map(canonical).join(',')}]`
          : `{${Object.keys(v as object)
              .sort()
              .map((k) => `${JSON.stringify(k)}:${canonical((v as Record<string, unknown>)[k])}`)
              .join(',')}}`;
    const d = copy();
    d.entries[4]!.body.rows = 2;
    let prev = d.entries[3]!.hash;
    for (const e of d.entries.slice(4)) {
      e.prev_hash = prev;
      const { hash: _h, ...rest } = e as unknown as Record<string, unknown>;
      e.hash = createHash('sha256')
        .update('citybase-access-log-entry:v1\n' + canonical(rest))
        .digest('hex');
      prev = e.hash;
    }
    const { code, report } = verify(d);
    expect(code).toBe(3);
    expect(report.problems.join('\n')).toMatch(/Merkle root .* differs from the signed one/);
  });

  it('detects a removed entry', () => {
    const d = copy();
    d.entries.splice(2, 1);
    const { code, report } = verify(d);
    expect(code).toBe(3);
    expect(report.problems.join('\n')).toMatch(/expected 3 \(an entry is missing or out of order\)/);
  });

  it('detects two swapped entries', () => {
    const d = copy();
    [d.entries[1], d.entries[2]] = [d.entries[2]!, d.entries[1]!];
    const { code, report } = verify(d);
    expect(code).toBe(3);
    expect(report.problems.join('\n')).toMatch(/prev_hash does not link/);
  });

  it("detects the last entries cut off, evidence whose manifest was changed, and a key that is not the city's", () => {
    const d = copy();
    d.entries.pop();
    expect(verify(d).report.problems.join('\n')).toMatch(/covers more entries than the export holds/);

    const ev = JSON.parse(JSON.stringify(evidence)) as { manifest: { rows: number } };
    ev.manifest.rows = 1;
    const bad = verify(doc, [ev]);
    expect(bad.code).toBe(3);
    expect(bad.report.problems.join('\n')).toMatch(/manifest does not match manifest_hash/);

    const other = generateKeyPairSync('ed25519')
      .publicKey.export({ format: 'der', type: 'spki' })
      .toString('base64');
    const wrongKey = verify(doc, [], other);
    expect(wrongKey.code).toBe(3);
    expect(wrongKey.report.problems.join('\n')).toMatch(/signature does not verify/);
  });
});
