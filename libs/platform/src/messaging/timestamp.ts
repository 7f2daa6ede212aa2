/** google.protobuf.Timestamp as ts-proto generates it (useDate=false, int64 as bigint). */
export interface ProtoTimestamp {
  seconds: bigint;
  nanos: number;
}

export function toTimestamp(date: Date): ProtoTimestamp {
  const ms = BigInt(date.getTime());
  const seconds = ms >= 0n ? ms / 1000n : -((-ms + 999n) / 1000n);
  return { seconds, nanos: Number(ms - seconds * 1000n) * 1_000_000 };
}

export function fromTimestamp(ts: ProtoTimestamp): Date {
  return new Date(Number(ts.seconds * 1000n) + Math.floor(ts.nanos / 1_000_000));
}
