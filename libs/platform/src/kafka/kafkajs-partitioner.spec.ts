// patches/kafkajs+2.2.4.patch also makes kafkajs's producer cheaper per message: the default
// partitioner's murmur2 allocated a Long for every step (the largest allocator of iot's ingest,
// docs/performance.md), the partitioner filtered the partition list for every keyed message, and
// grouping a batch by partition copied each partition's array for every message. Keyed messages
// must land on the same partitions as before (and as the Java client's): per-key order depends on it.
import { randomBytes } from 'node:crypto';
import { Partitioners } from 'kafkajs';

export {};

const murmur2 = require('kafkajs/src/producer/partitioners/default/murmur2') as (key: unknown) => number;
const groupMessagesPerPartition = require('kafkajs/src/producer/groupMessagesPerPartition') as (args: {
  topic: string;
  partitionMetadata: { partitionId: number; leader: number }[];
  messages: { key?: string | null; value: string }[];
  partitioner: (args: { message: { key?: string | null } }) => number;
}) => Record<string, { key?: string | null; value: string }[]>;

/** Kafka's murmur2 (Utils.murmur2 of the Java client) on 64-bit BigInts cut to int32, step by step. */
function reference(data: Buffer): number {
  const int = (v: bigint) => BigInt.asIntN(32, v);
  const ushr = (v: bigint, n: bigint) => BigInt.asUintN(32, v) >> n;
  const m = 0x5bd1e995n;
  let h = int(0x9747b28cn ^ BigInt(data.length));
  const length4 = Math.floor(data.length / 4);
  for (let i = 0; i < length4; i++) {
    let k = BigInt(data.readInt32LE(i * 4));
    k = int(k * m);
    k = int(k ^ ushr(k, 24n));
    k = int(k * m);
    h = int(h * m);
    h = int(h ^ k);
  }
  const tail = data.subarray(data.length & ~3);
  if (tail.length > 0) {
    for (let i = tail.length - 1; i >= 0; i--) h = int(h ^ (BigInt(tail.readUInt8(i)) << BigInt(8 * i)));
    h = int(h * m);
  }
  h = int(h ^ ushr(h, 13n));
  h = int(h * m);
  h = int(h ^ ushr(h, 15n));
  return Number(h);
}

describe('kafkajs partitioning (patched)', () => {
  it("hashes keys as the Java client's murmur2 does (Kafka's own test vectors)", () => {
    const vectors: [string, number][] = [
      ['21', -973932308],
      ['foobar', -790332482],
      ['a-little-bit-long-string', -985981536],
      ['a-little-bit-longer-string', -1486304829],
      ['lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8', -58897971],
      ['abc', 479470107],
    ];
    expect(vectors.map(([key]) => murmur2(key))).toEqual(vectors.map(([, hash]) => hash));
    // as unpatched kafkajs 2.2.4 hashed them: every tail length, a device id, UTF-8, bytes, a number
    expect(
      ['', 'a', 'ab', 'abcd', '9bf4ac86-cc92-5d8d-9e91-639ffbc10a5f', '设备-42'].map((k) => murmur2(k)),
    ).toEqual([275646681, -1563381124, 316155434, -1323649548, 715278645, -652130488]);
    expect(murmur2(Buffer.from([0xff, 0xfe, 0x00, 0x80, 0x7f]))).toBe(998457672);
    expect(murmur2(12345)).toBe(-1188365604);
  });

  it('agrees with the reference on 20,000 random keys of 0-69 bytes, as strings and as buffers', () => {
    const mismatches: string[] = [];
    for (let i = 0; i < 20_000; i++) {
      const bytes = randomBytes(i % 70);
      const key = i % 2 === 0 ? bytes : bytes.toString('base64');
      const expected = reference(Buffer.isBuffer(key) ? key : Buffer.from(key));
      if (murmur2(key) !== expected) mismatches.push(bytes.toString('hex'));
    }
    expect(mismatches).toEqual([]);
  });

  it('puts keyed messages on the partition of their hash, keyless ones on available partitions', () => {
    const partitioner = Partitioners.DefaultPartitioner();
    const partitionMetadata = [0, 1, 2, 3, 4, 5].map((p) => ({
      partitionId: p,
      leader: p === 3 ? -1 : 0,
      partitionErrorCode: 0,
      replicas: [],
      isr: [],
    }));
    const key = '9bf4ac86-cc92-5d8d-9e91-639ffbc10a5f';
    // the patched partitioner lists the available partitions only for a message without a key
    let filtered = 0;
    const filter = partitionMetadata.filter.bind(partitionMetadata);
    partitionMetadata.filter = ((...args: Parameters<typeof filter>) => {
      filtered++;
      return filter(...args);
    }) as typeof partitionMetadata.filter;
    const keyed = partitioner({ topic: 't', partitionMetadata, message: { key, value: 'v' } });
    expect(keyed).toBe((715278645 & 0x7fffffff) % 6);
    expect(filtered).toBe(0);
    const keyless = Array.from({ length: 50 }, () =>
      partitioner({ topic: 't', partitionMetadata, message: { value: 'v' } }),
    );
    expect(new Set(keyless).has(3)).toBe(false); // partition 3 has no leader
    expect(new Set(keyless).size).toBe(5);
    expect(filtered).toBe(50);
  });

  it('groups a batch by partition, each partition in send order', () => {
    const messages = Array.from({ length: 5_000 }, (_, i) => ({ key: `k${i % 97}`, value: String(i) }));
    const partitionOf = (key: string | null | undefined) => (murmur2(key) & 0x7fffffff) % 6;
    const grouped = groupMessagesPerPartition({
      topic: 't',
      partitionMetadata: [0, 1, 2, 3, 4, 5].map((p) => ({ partitionId: p, leader: 0 })),
      messages,
      partitioner: ({ message }) => partitionOf(message.key),
    });
    for (let p = 0; p < 6; p++) {
      const expected = messages.filter((m) => partitionOf(m.key) === p);
      if (expected.length === 0) expect(grouped[p]).toBeUndefined();
      else expect(grouped[p]).toEqual(expected);
    }
    expect(Object.values(grouped).reduce((n, g) => n + g.length, 0)).toBe(messages.length);
  });
});
