import { createHash, createPrivateKey, createPublicKey, KeyObject, sign } from 'node:crypto';

/**
 * The access log's format (docs/adr/0011-access-log-evidence.md). Pure: the same rules are
 * re-implemented independently by `citybase feeds verify` (tools/cli), which must agree byte for byte.
 *
 * - An entry's hash: sha256 hex of "citybase-access-log-entry:v1\n" + canonical JSON of
 *   {seq, at, kind, body, prev_hash}; prev_hash of entry 1 is 64 zeros.
 * - The Merkle tree over the entries' hashes is RFC 9162's (leaf = sha256(0x00 || hash bytes),
 *   node = sha256(0x01 || left || right), split at the largest power of two below n).
 * - A checkpoint signs "citybase-access-log-checkpoint:v1\n<city>\n<tree_size>\n<root hex>" with the
 *   city's Ed25519 key.
 */

export const GENESIS_HASH = '0'.repeat(64);
export const ENTRY_DOMAIN = 'citybase-access-log-entry:v1\n';
export const EXPORT_FORMAT = 'citybase-access-log/v1';
export const EVIDENCE_FORMAT = 'citybase-pull-evidence/v1';

export type Json = string | number | boolean | null | Json[] | { [k: string]: Json };

/** JSON with object keys sorted at every level; the only serialisation that is hashed. */
export function canonicalJson(value: Json): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const keys = Object.keys(value).sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(value[k]!)}`).join(',')}}`;
}

export function sha256Hex(data: string | Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

export interface LogEntry {
  seq: number;
  at: string;
  kind: string;
  body: { [k: string]: Json };
  prev_hash: string;
  hash: string;
}

export function entryHash(e: Omit<LogEntry, 'hash'>): string {
  return sha256Hex(
    ENTRY_DOMAIN +
      canonicalJson({ seq: e.seq, at: e.at, kind: e.kind, body: e.body, prev_hash: e.prev_hash }),
  );
}

const leafHash = (h: Buffer) => createHash('sha256').update(Buffer.of(0)).update(h).digest();
const nodeHash = (l: Buffer, r: Buffer) =>
  createHash('sha256').update(Buffer.of(1)).update(l).update(r).digest();

/** Largest power of two strictly below n (n >= 2). */
function split(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

/** RFC 9162 Merkle tree head of the entry hashes (hex); the empty tree is sha256 of nothing. */
export function merkleRoot(hashes: readonly string[]): string {
  return mth(hashes.map((h) => Buffer.from(h, 'hex'))).toString('hex');
}

function mth(leaves: Buffer[]): Buffer {
  if (leaves.length === 0) return createHash('sha256').digest();
  if (leaves.length === 1) return leafHash(leaves[0]!);
  const k = split(leaves.length);
  return nodeHash(mth(leaves.slice(0, k)), mth(leaves.slice(k)));
}

/** RFC 9162 inclusion proof (PATH) of leaf `index` (0-based) in the tree of `hashes`. */
export function inclusionProof(hashes: readonly string[], index: number): string[] {
  return path(
    index,
    hashes.map((h) => Buffer.from(h, 'hex')),
  ).map((b) => b.toString('hex'));
}

function path(m: number, leaves: Buffer[]): Buffer[] {
  if (leaves.length <= 1) return [];
  const k = split(leaves.length);
  return m < k
    ? [...path(m, leaves.slice(0, k)), mth(leaves.slice(k))]
    : [...path(m - k, leaves.slice(k)), mth(leaves.slice(0, k))];
}

/** RFC 9162 section 2.1.3.2: does `proof` put entry hash `hash` at `index` of a tree with `root`? */
export function verifyInclusion(
  hash: string,
  index: number,
  size: number,
  proof: string[],
  root: string,
): boolean {
  if (index >= size) return false;
  let fn = index;
  let sn = size - 1;
  let r = leafHash(Buffer.from(hash, 'hex'));
  for (const p of proof) {
    const pb = Buffer.from(p, 'hex');
    if (sn === 0) return false;
    if (fn % 2 === 1 || fn === sn) {
      r = nodeHash(pb, r);
      if (fn % 2 === 0) {
        while (fn % 2 === 0 && fn !== 0) {
          fn >>= 1;
          sn >>= 1;
        }
      }
    } else {
      r = nodeHash(r, pb);
    }
    fn >>= 1;
    sn >>= 1;
  }
  return sn === 0 && r.toString('hex') === root;
}

export function checkpointMessage(city: string, treeSize: number, root: string): string {
  return `citybase-access-log-checkpoint:v1\n${city}\n${treeSize}\n${root}`;
}

/** PKCS#8 DER prefix of an Ed25519 private key; the 32-byte seed follows. */
const ED25519_PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');

/** The city's access-log signing key, from the 32-byte seed in DATA_SIGNING_KEY. */
export class LogSigner {
  readonly publicKeyDer: string;
  readonly keyId: string;
  private readonly key: KeyObject;

  constructor(seedBase64: string) {
    const seed = Buffer.from(seedBase64, 'base64');
    this.key = createPrivateKey({
      key: Buffer.concat([ED25519_PKCS8_PREFIX, seed]),
      format: 'der',
      type: 'pkcs8',
    });
    const spki = createPublicKey(this.key).export({ format: 'der', type: 'spki' });
    this.publicKeyDer = spki.toString('base64');
    this.keyId = sha256Hex(spki).slice(0, 16);
  }

  sign(message: string): string {
    return sign(null, Buffer.from(message), this.key).toString('base64');
  }
}
