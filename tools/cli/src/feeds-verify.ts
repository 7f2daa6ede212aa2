// `citybase feeds verify <export>`: checks an access-log export of the data service, and pull
// evidence bundles, offline: nothing of the city is reached. An independent implementation of the
// format of docs/adr/0011-access-log-evidence.md (the service's is services/data/src/access-log):
// both must agree byte for byte, which the data service's tests check by running this command.
import { createHash, createPublicKey, verify } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { CliError, EXIT_OK } from './errors';
import type { Io } from './io';

type Json = string | number | boolean | null | Json[] | { [k: string]: Json };

const GENESIS = '0'.repeat(64);
/** Exit code when the export or evidence does not verify (as `ledger check` uses 3 for a broken invariant). */
export const EXIT_TAMPERED = 3;

function canonical(v: Json): string {
  if (v === null || typeof v !== 'object') return JSON.stringify(v);
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  return `{${Object.keys(v)
    .sort()
    .map((k) => `${JSON.stringify(k)}:${canonical(v[k]!)}`)
    .join(',')}}`;
}

const sha256 = (...parts: (string | Buffer)[]) => {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return h.digest();
};
const leaf = (hex: string) => sha256(Buffer.of(0), Buffer.from(hex, 'hex'));
const node = (l: Buffer, r: Buffer) => sha256(Buffer.of(1), l, r);

function root(leaves: Buffer[]): Buffer {
  if (leaves.length === 0) return sha256();
  if (leaves.length === 1) return leaf(leaves[0]!.toString('hex'));
  let k = 1;
  while (k * 2 < leaves.length) k *= 2;
  return node(root(leaves.slice(0, k)), root(leaves.slice(k)));
}

/** RFC 9162 section 2.1.3.2. */
function inclusionHolds(hash: string, index: number, size: number, path: string[], rootHex: string): boolean {
  if (index >= size) return false;
  let fn = index;
  let sn = size - 1;
  let r = leaf(hash);
  for (const p of path) {
    const pb = Buffer.from(p, 'hex');
    if (sn === 0) return false;
    if (fn % 2 === 1 || fn === sn) {
      r = node(pb, r);
      while (fn % 2 === 0 && fn !== 0) {
        fn >>= 1;
        sn >>= 1;
      }
    } else r = node(r, pb);
    fn >>= 1;
    sn >>= 1;
  }
  return sn === 0 && r.toString('hex') === rootHex;
}

interface Entry {
  seq: number;
  at: string;
  kind: string;
  body: { [k: string]: Json };
  prev_hash: string;
  hash: string;
}
interface Checkpoint {
  tree_size: number;
  root: string;
  key_id: string;
  signature: string;
}

const entryHash = (e: Entry) =>
  sha256(
    'citybase-access-log-entry:v1\n',
    canonical({ seq: e.seq, at: e.at, kind: e.kind, body: e.body, prev_hash: e.prev_hash }),
  ).toString('hex');

function signatureHolds(publicKeyDer: string, city: string, c: Checkpoint): boolean {
  try {
    const key = createPublicKey({ key: Buffer.from(publicKeyDer, 'base64'), format: 'der', type: 'spki' });
    const msg = `citybase-access-log-checkpoint:v1\n${city}\n${c.tree_size}\n${c.root}`;
    return verify(null, Buffer.from(msg), key, Buffer.from(c.signature, 'base64'));
  } catch {
    return false;
  }
}

function readJson(path: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new CliError(`cannot read ${path}: ${(err as Error).message}`);
  }
  try {
    return JSON.parse(text) as Record<string, unknown>;
  } catch {
    throw new CliError(`${path} is not JSON`);
  }
}

/** Every problem of an export; empty when it verifies. */
export function verifyExport(doc: Record<string, unknown>, pinnedKey?: string): string[] {
  const problems: string[] = [];
  if (doc.format !== 'citybase-access-log/v1')
    return [`not an access-log export (format ${String(doc.format)})`];
  const city = String(doc.city);
  const key = pinnedKey ?? String(doc.public_key);
  if (pinnedKey !== undefined && doc.public_key !== pinnedKey)
    problems.push('the export names another public key than the one given with --public-key');
  const entries = (doc.entries ?? []) as Entry[];
  const checkpoints = (doc.checkpoints ?? []) as Checkpoint[];
  const from = Number(doc.from_seq ?? 1);
  let prev = from <= 1 ? GENESIS : String(doc.anchor_hash);
  entries.forEach((e, i) => {
    const expectedSeq = from + i;
    if (e.seq !== expectedSeq)
      problems.push(
        `entry ${i + 1}: seq ${e.seq}, expected ${expectedSeq} (an entry is missing or out of order)`,
      );
    if (e.prev_hash !== prev)
      problems.push(`entry seq ${e.seq}: prev_hash does not link to the entry before it`);
    if (entryHash(e) !== e.hash)
      problems.push(`entry seq ${e.seq}: its hash does not match its content (changed)`);
    prev = e.hash;
  });
  if (from <= 1) {
    const leaves = entries.map((e) => Buffer.from(e.hash, 'hex'));
    let covered = 0;
    for (const c of checkpoints) {
      if (!signatureHolds(key, city, c))
        problems.push(`checkpoint ${c.tree_size}: signature does not verify with the city's key`);
      if (c.tree_size > entries.length) {
        problems.push(
          `checkpoint ${c.tree_size}: covers more entries than the export holds (${entries.length}): entries were removed`,
        );
        continue;
      }
      if (root(leaves.slice(0, c.tree_size)).toString('hex') !== c.root)
        problems.push(
          `checkpoint ${c.tree_size}: the Merkle root of the first ${c.tree_size} entries differs from the signed one`,
        );
      covered = Math.max(covered, c.tree_size);
    }
    if (covered < entries.length)
      problems.push(`entries after seq ${covered} are not covered by a signed checkpoint`);
  } else if (checkpoints.some((c) => !signatureHolds(key, city, c))) {
    problems.push("a checkpoint signature does not verify with the city's key");
  }
  return problems;
}

/** Every problem of one pull's evidence (against the export too, when given). */
export function verifyEvidence(
  ev: Record<string, unknown>,
  pinnedKey: string | undefined,
  exported: Record<string, unknown> | undefined,
): string[] {
  const problems: string[] = [];
  if (ev.format !== 'citybase-pull-evidence/v1') return [`not pull evidence (format ${String(ev.format)})`];
  const entry = ev.entry as Entry;
  const cp = ev.checkpoint as Checkpoint;
  const inc = ev.inclusion as { leaf_index: number; tree_size: number; path: string[] };
  const manifest = ev.manifest as { [k: string]: Json };
  const key = pinnedKey ?? String(ev.public_key);
  if (sha256(canonical(manifest)).toString('hex') !== ev.manifest_hash)
    problems.push('the manifest does not match manifest_hash');
  if (entry.kind !== 'pull.closed' || entry.body.pull_id !== ev.pull_id)
    problems.push('the entry is not the closing entry of this pull');
  if (entry.body.sha256 !== manifest.sha256 || entry.body.rows !== manifest.rows)
    problems.push("the log entry's rows and sha256 differ from the manifest's");
  if (entry.body.grant_version !== ev.grant_version)
    problems.push("the log entry's grant version differs from the evidence's");
  if (entryHash(entry) !== entry.hash) problems.push('the log entry does not match its hash');
  if (!signatureHolds(key, String(ev.city), cp))
    problems.push("the checkpoint's signature does not verify with the city's key");
  if (
    inc.tree_size !== cp.tree_size ||
    !inclusionHolds(entry.hash, inc.leaf_index, inc.tree_size, inc.path, cp.root)
  )
    problems.push('the inclusion proof does not put the entry in the signed checkpoint');
  if (exported) {
    const there = ((exported.entries ?? []) as Entry[]).find((e) => e.seq === entry.seq);
    if (!there || there.hash !== entry.hash)
      problems.push(`the export's entry seq ${entry.seq} is not the one of this evidence`);
  }
  return problems;
}

export interface FeedsVerifyCommand {
  exportFile: string;
  evidenceFiles: string[];
  publicKey?: string;
}

/** Prints a JSON report; exit 0 when everything verifies, 3 when something does not. */
export function runFeedsVerify(cmd: FeedsVerifyCommand, io: Io): number {
  const doc = readJson(cmd.exportFile);
  const problems = verifyExport(doc, cmd.publicKey).map((p) => `${cmd.exportFile}: ${p}`);
  for (const file of cmd.evidenceFiles) {
    problems.push(...verifyEvidence(readJson(file), cmd.publicKey, doc).map((p) => `${file}: ${p}`));
  }
  const report = {
    verified: problems.length === 0,
    entries: ((doc.entries ?? []) as unknown[]).length,
    checkpoints: ((doc.checkpoints ?? []) as unknown[]).length,
    evidence: cmd.evidenceFiles.length,
    key_id: String(doc.key_id ?? ''),
    problems,
  };
  io.out(`${JSON.stringify(report, null, 2)}\n`);
  return problems.length === 0 ? EXIT_OK : EXIT_TAMPERED;
}
