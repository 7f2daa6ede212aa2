import fc from 'fast-check';
import { DomainError } from '../errors';
import { domainErrorOf } from '../testing/spec-helpers';
import {
  isInt64Text,
  isTimestampText,
  keyPart,
  PAGE_LIMITS,
  pageCursor,
  pageOf,
  parsePage,
  parsePageSize,
} from './index';

const ORDERS = pageCursor('test.orders', keyPart.timestamp, keyPart.uuid);
const ENTRIES = pageCursor('test.entries', keyPart.bigint);
const RECORDS = pageCursor(
  'test.records',
  keyPart.text(/^[A-Za-z0-9._:-]+$/, 64),
  keyPart.text(/^[A-Z]{3}$/, 3),
);
const ALL = pageCursor(
  'test.all',
  keyPart.uuid,
  keyPart.bigint,
  keyPart.timestamp,
  keyPart.text(/^[a-z]*$/, 5),
);

const A = '0b9d6b39-2a83-4f0e-9d1c-6d0a4cf2b8e1';
const T = '2026-01-02T03:04:05.123456Z';
const json = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

function expectRefused(fn: () => unknown, field = 'page.page_token'): void {
  const err = domainErrorOf(fn);
  expect([err.kind, err.detail.field]).toEqual(['invalid_argument', field]);
}

// ---- arbitraries ----

const uuidArb = fc.uuid().map((u) => u.toLowerCase());
const int64Arb = fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n });
const pad = (n: number, w: number) => String(n).padStart(w, '0');
/** Any real instant from year 1 to 9999, with microseconds. */
const timestampArb = fc
  .tuple(
    fc.integer({ min: Date.parse('0001-01-01T00:00:00.000Z'), max: Date.parse('9999-12-31T23:59:59.999Z') }),
    fc.integer({ min: 0, max: 999 }),
  )
  .map(([ms, micros]) => `${new Date(ms).toISOString().slice(0, 23)}${pad(micros, 3)}Z`);
const textArb = fc.string({ unit: fc.constantFrom(...'abcxyz'), maxLength: 5 });

describe('page tokens', () => {
  it('round-trips a cursor of every part type', () => {
    fc.assert(
      fc.property(uuidArb, int64Arb, timestampArb, textArb, (u, n, t, s) => {
        const cursor: [string, bigint, string, string] = [u, n, t, s];
        expect(ALL.decode(ALL.encode(cursor))).toEqual(cursor);
      }),
    );
    expect(ORDERS.decode(ORDERS.encode([T, A]))).toEqual([T, A]);
    expect(ENTRIES.decode(ENTRIES.encode([9223372036854775807n]))).toEqual([9223372036854775807n]);
    expect(RECORDS.decode(RECORDS.encode(['m-1', 'CNY']))).toEqual(['m-1', 'CNY']);
  });

  it('refuses any change to a token, or decodes it to a cursor it would issue itself', () => {
    const tokenArb = fc.tuple(uuidArb, int64Arb, timestampArb, textArb).map((c) => ALL.encode(c));
    const mutated = fc
      .oneof(
        // replace, insert or delete one character
        fc.tuple(tokenArb, fc.nat(), fc.constantFrom(...'AZaz09-_=+/.!')).map(([t, i, c]) => {
          const at = i % t.length;
          return [t, t.slice(0, at) + c + t.slice(at + 1)] as const;
        }),
        fc.tuple(tokenArb, fc.nat(), fc.constantFrom(...'Aa0-_')).map(([t, i, c]) => {
          const at = i % (t.length + 1);
          return [t, t.slice(0, at) + c + t.slice(at)] as const;
        }),
        fc.tuple(tokenArb, fc.nat()).map(([t, i]) => {
          const at = i % t.length;
          return [t, t.slice(0, at) + t.slice(at + 1)] as const;
        }),
        // flip one bit of the decoded JSON
        fc.tuple(tokenArb, fc.nat(), fc.integer({ min: 0, max: 7 })).map(([t, i, bit]) => {
          const bytes = Buffer.from(t, 'base64url');
          const at = i % bytes.length;
          bytes[at] = (bytes[at] ?? 0) ^ (1 << bit);
          return [t, bytes.toString('base64url')] as const;
        }),
      )
      .filter(([original, token]) => token !== original);
    fc.assert(
      fc.property(mutated, ([original, token]) => {
        let decoded: unknown[];
        try {
          decoded = ALL.decode(token);
        } catch (err) {
          expect(err).toBeInstanceOf(DomainError);
          expect((err as DomainError).detail.field).toBe('page.page_token');
          return;
        }
        // still a token of ours: then it is exactly the token of the cursor it names
        expect(ALL.encode(decoded as Parameters<typeof ALL.encode>[0])).toBe(token);
        expect(decoded).not.toEqual(ALL.decode(original));
      }),
      { numRuns: 2000 },
    );
  });

  it.each([
    ['empty', ''],
    ['not base64url', 'zz!'],
    ['padding', `${ORDERS.encode([T, A])}==`],
    ['too long', 'A'.repeat(1025)],
    ['not JSON', Buffer.from('hello').toString('base64url')],
    ['JSON of no object', json([T, A])],
    ['the old identity format', json({ created_at: T, id: A })],
    ['another version', json({ v: 2, l: 'test.orders', k: [T, A] })],
    ['no version', json({ l: 'test.orders', k: [T, A] })],
    ['another list with the same parts', json({ v: 1, l: 'test.others', k: [T, A] })],
    ['a missing part', json({ v: 1, l: 'test.orders', k: [T] })],
    ['an extra part', json({ v: 1, l: 'test.orders', k: [T, A, A] })],
    ['a part of another type', json({ v: 1, l: 'test.orders', k: [Date.parse(T), A] })],
    ['an extra key', json({ v: 1, l: 'test.orders', k: [T, A], x: 1 })],
    ['keys in another order', json({ l: 'test.orders', v: 1, k: [T, A] })],
    [
      'whitespace in the JSON',
      Buffer.from(`{"v":1, "l":"test.orders","k":["${T}","${A}"]}`).toString('base64url'),
    ],
    ['an upper-case UUID', json({ v: 1, l: 'test.orders', k: [T, A.toUpperCase()] })],
    ['no UUID', json({ v: 1, l: 'test.orders', k: [T, "x' OR 1=1"] })],
    ['a UUID without dashes', json({ v: 1, l: 'test.orders', k: [T, A.replace(/-/g, '')] })],
    ['February 30th', json({ v: 1, l: 'test.orders', k: ['2026-02-30T00:00:00.000000Z', A] })],
    [
      'February 29th of a common year',
      json({ v: 1, l: 'test.orders', k: ['2025-02-29T12:00:00.000000Z', A] }),
    ],
    ['month 13', json({ v: 1, l: 'test.orders', k: ['2026-13-01T00:00:00.000000Z', A] })],
    ['hour 24', json({ v: 1, l: 'test.orders', k: ['2026-01-01T24:00:00.000000Z', A] })],
    ['a leap second', json({ v: 1, l: 'test.orders', k: ['2016-12-31T23:59:60.000000Z', A] })],
    ['year 0', json({ v: 1, l: 'test.orders', k: ['0000-01-01T00:00:00.000000Z', A] })],
    ['a 6-digit year', json({ v: 1, l: 'test.orders', k: ['+275760-01-01T00:00:00.000000Z', A] })],
    ['milliseconds', json({ v: 1, l: 'test.orders', k: ['2026-01-02T03:04:05.123Z', A] })],
    ['an offset', json({ v: 1, l: 'test.orders', k: ['2026-01-02T03:04:05.123456+01:00', A] })],
    ['a date only', json({ v: 1, l: 'test.orders', k: ['2026-01-02', A] })],
  ])('refuses %s', (_, token) => {
    expectRefused(() => ORDERS.decode(token));
  });

  it.each([
    ['beyond int64', '9223372036854775808'],
    ['below int64', '-9223372036854775809'],
    ['a leading zero', '012'],
    ['a plus sign', '+12'],
    ['minus zero', '-0'],
    ['a fraction', '1.5'],
    ['an exponent', '1e3'],
    ['hex', '0x10'],
    ['spaces', ' 12'],
    ['empty', ''],
  ])('refuses a bigint part with %s', (_, part) => {
    expectRefused(() => ENTRIES.decode(json({ v: 1, l: 'test.entries', k: [part] })));
  });

  it('accepts the int64 extremes and refuses a bigint sent as a JSON number', () => {
    for (const n of ['-9223372036854775808', '0', '9223372036854775807'])
      expect(ENTRIES.decode(json({ v: 1, l: 'test.entries', k: [n] }))).toEqual([BigInt(n)]);
    expectRefused(() => ENTRIES.decode(json({ v: 1, l: 'test.entries', k: [12] })));
  });

  it('refuses text parts that break their pattern or length', () => {
    expectRefused(() => RECORDS.decode(json({ v: 1, l: 'test.records', k: ['m 1', 'CNY'] })));
    expectRefused(() => RECORDS.decode(json({ v: 1, l: 'test.records', k: ['m', 'cny'] })));
    expectRefused(() => RECORDS.decode(json({ v: 1, l: 'test.records', k: ['m'.repeat(65), 'CNY'] })));
    expect(RECORDS.decode(json({ v: 1, l: 'test.records', k: ['m'.repeat(64), 'CNY'] }))).toEqual([
      'm'.repeat(64),
      'CNY',
    ]);
  });

  it('names the field it is given', () => {
    expectRefused(() => ORDERS.decode('zz!', 'query.page.page_token'), 'query.page.page_token');
  });

  it('never issues a token it would refuse', () => {
    expect(() => ORDERS.encode(['2026-02-30T00:00:00.000000Z', A])).toThrow(/key part 0/);
    expect(() => ORDERS.encode([T, 'nope'])).toThrow(/key part 1/);
    expect(() => ENTRIES.encode([2n ** 63n])).toThrow(/key part 0/);
    expect(() => pageCursor('Bad List', keyPart.uuid)).toThrow(/list name/);
  });

  it('checks timestamps and int64 text the way PostgreSQL reads them', () => {
    expect(isTimestampText('2024-02-29T23:59:59.999999Z')).toBe(true);
    expect(isTimestampText('0001-01-01T00:00:00.000000Z')).toBe(true);
    expect(isTimestampText('9999-12-31T23:59:59.999999Z')).toBe(true);
    expect(isTimestampText('2026-02-30T00:00:00.000000Z')).toBe(false);
    expect(isTimestampText('2026-04-31T00:00:00.000000Z')).toBe(false);
    expect(isTimestampText('1900-02-29T00:00:00.000000Z')).toBe(false);
    expect(isInt64Text('-9223372036854775808')).toBe(true);
    expect(isInt64Text('9223372036854775808')).toBe(false);
  });
});

describe('page requests', () => {
  it('defaults and bounds the page size', () => {
    expect(parsePageSize(undefined)).toBe(50);
    expect(parsePageSize(0)).toBe(50);
    expect(parsePageSize(500)).toBe(500);
    expect(parsePageSize(200, { defaultSize: 50, maxSize: 200 })).toBe(200);
    for (const size of [-1, 501, 1.5, Number.NaN]) expectRefused(() => parsePageSize(size), 'page.page_size');
    expectRefused(() => parsePageSize(201, { defaultSize: 50, maxSize: 200 }), 'page.page_size');
    expect(domainErrorOf(() => parsePageSize(501)).message).toBe(
      'page.page_size: must be from 0 to 500 (0 means 50)',
    );
    expect(PAGE_LIMITS).toEqual({ defaultSize: 50, maxSize: 500 });
  });

  it('parses size and token together', () => {
    expect(parsePage(undefined, ORDERS)).toEqual({ size: 50, after: undefined });
    expect(parsePage({ pageSize: 3, pageToken: '' }, ORDERS)).toEqual({ size: 3, after: undefined });
    expect(parsePage({ pageSize: 3, pageToken: ORDERS.encode([T, A]) }, ORDERS)).toEqual({
      size: 3,
      after: [T, A],
    });
    expectRefused(() => parsePage({ pageSize: 3, pageToken: ENTRIES.encode([1n]) }, ORDERS));
    expectRefused(
      () => parsePage({ pageSize: 501, pageToken: ORDERS.encode([T, A]) }, ORDERS),
      'page.page_size',
    );
  });

  it('cuts a page and names the last row in the next token', () => {
    const rows = [1n, 2n, 3n].map((id) => ({ id }));
    expect(pageOf(rows, 3, ENTRIES, (r) => [r.id])).toEqual({ rows, nextPageToken: '' });
    expect(pageOf(rows, 5, ENTRIES, (r) => [r.id])).toEqual({ rows, nextPageToken: '' });
    const first = pageOf(rows, 2, ENTRIES, (r) => [r.id]);
    expect(first.rows).toEqual(rows.slice(0, 2));
    expect(ENTRIES.decode(first.nextPageToken)).toEqual([2n]);
    expect(pageOf([], 2, ENTRIES, (r: { id: bigint }) => [r.id])).toEqual({ rows: [], nextPageToken: '' });
  });
});
