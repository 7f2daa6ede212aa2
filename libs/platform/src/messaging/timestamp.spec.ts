import { fromTimestamp, toTimestamp } from './timestamp';

describe('protobuf timestamps', () => {
  it.each(['2026-11-22T14:00:00.123Z', '1969-12-31T23:59:59.999Z', '1970-01-01T00:00:00.000Z'])(
    'round-trips %s',
    (iso) => {
      const ts = toTimestamp(new Date(iso));
      expect(ts.nanos).toBeGreaterThanOrEqual(0);
      expect(ts.nanos).toBeLessThan(1e9);
      expect(fromTimestamp(ts).toISOString()).toBe(iso);
    },
  );
});
