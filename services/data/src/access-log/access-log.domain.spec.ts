import { createPublicKey, randomBytes, verify } from 'node:crypto';
import {
  canonicalJson,
  checkpointMessage,
  entryHash,
  GENESIS_HASH,
  inclusionProof,
  LogSigner,
  merkleRoot,
  sha256Hex,
  verifyInclusion,
} from './access-log.domain';

describe('access log format', () => {
  it('canonical JSON sorts keys at every level', () => {
    expect(canonicalJson({ b: 1, a: { d: [2, { z: 1, y: 'x' }], c: null } })).toBe(
      '{"a":{"c":null,"d":[2,{"y":"x","z":1}]},"b":1}',
    );
  });

  it('an entry hash changes with any part of the entry', () => {
    const e = {
      seq: 1,
      at: '2026-01-01T00:00:00.000Z',
      kind: 'grant.issued',
      body: { a: '1' },
      prev_hash: GENESIS_HASH,
    };
    const h = entryHash(e);
    expect(entryHash({ ...e, body: { a: '2' } })).not.toBe(h);
    expect(entryHash({ ...e, seq: 2 })).not.toBe(h);
    expect(entryHash({ ...e, prev_hash: 'f'.repeat(64) })).not.toBe(h);
  });

  it('every inclusion proof verifies against the root, for trees of 1..20 leaves, and fails for another leaf', () => {
    for (let n = 1; n <= 20; n++) {
      const hashes = Array.from({ length: n }, (_, i) => sha256Hex(`leaf ${i}`));
      const root = merkleRoot(hashes);
      for (let i = 0; i < n; i++) {
        const proof = inclusionProof(hashes, i);
        expect(verifyInclusion(hashes[i]!, i, n, proof, root)).toBe(true);
        expect(verifyInclusion(sha256Hex('other'), i, n, proof, root)).toBe(false);
        if (n > 1) expect(verifyInclusion(hashes[i]!, (i + 1) % n, n, proof, root)).toBe(false);
      }
    }
  });

  it('signs checkpoints with Ed25519 from the 32-byte seed', () => {
    const signer = new LogSigner(randomBytes(32).toString('base64'));
    const msg = checkpointMessage('city', 3, 'ab'.repeat(32));
    const sig = Buffer.from(signer.sign(msg), 'base64');
    const pub = createPublicKey({
      key: Buffer.from(signer.publicKeyDer, 'base64'),
      format: 'der',
      type: 'spki',
    });
    expect(verify(null, Buffer.from(msg), pub, sig)).toBe(true);
    expect(verify(null, Buffer.from(msg + 'x'), pub, sig)).toBe(false);
  });
});
