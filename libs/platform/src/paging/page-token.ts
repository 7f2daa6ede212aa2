import { DomainError } from '../errors';

/**
 * Page tokens of every list RPC (docs/adr/0008-page-tokens.md). A list is keyset-paginated: the
 * token names the sort key of the last row of the previous page, a tuple of typed parts. The token
 * is base64url of the canonical JSON `{"v":1,"l":<list>,"k":[<parts>]}`; it is not signed but
 * strictly validated: version, list and every part must be what this list issues, each part a value
 * PostgreSQL accepts for its type, and the token must be exactly the one this codec would issue for
 * the decoded cursor. Anything else is INVALID_ARGUMENT naming `page.page_token`, never a query.
 */

/** One typed part of a cursor. `text` patterns must be anchored (^...$). */
export type KeyPart =
  | { readonly kind: 'uuid' }
  | { readonly kind: 'bigint' }
  | { readonly kind: 'timestamp' }
  | { readonly kind: 'text'; readonly pattern: RegExp; readonly max: number };

/** The parts a cursor may be made of. */
export const keyPart = {
  /** A lower-case UUID as PostgreSQL prints it. */
  uuid: { kind: 'uuid' } as const,
  /** A PostgreSQL bigint (int64), decoded to a JavaScript bigint. */
  bigint: { kind: 'bigint' } as const,
  /** A UTC instant with microseconds as `to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')` prints it. */
  timestamp: { kind: 'timestamp' } as const,
  /** Text of at most `max` characters matching the anchored `pattern`. */
  text: (pattern: RegExp, max: number) => ({ kind: 'text', pattern, max }) as const,
};

type ValueOf<P extends KeyPart> = P extends { kind: 'bigint' } ? bigint : string;

/** The decoded cursor of a list with parts P: a tuple, bigint parts as bigint, the others as strings. */
export type CursorOf<P extends readonly KeyPart[]> = { -readonly [I in keyof P]: ValueOf<P[I]> };

/** The field every page token error names. */
export const PAGE_TOKEN_FIELD = 'page.page_token';
export const PAGE_TOKEN_RULE = 'is not a token from a previous page of this list';

const TOKEN_VERSION = 1;
const MAX_TOKEN_LENGTH = 1024;
const BASE64URL = /^[A-Za-z0-9_-]+$/;
const LIST_NAME = /^[a-z][a-z0-9_.-]{0,63}$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const INT64 = /^(0|-?[1-9]\d{0,18})$/;
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const TIMESTAMP = /^(\d{4})-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/;

/** True for a decimal integer PostgreSQL's bigint holds, written as bigint.toString() writes it. */
export function isInt64Text(text: string): boolean {
  if (!INT64.test(text)) return false;
  const n = BigInt(text);
  return n >= INT64_MIN && n <= INT64_MAX;
}

/**
 * True for `YYYY-MM-DDTHH:MM:SS.ffffffZ` naming an instant that exists: Date.parse rolls
 * 2026-02-30 over to March 2 and 24:00 to the next day, PostgreSQL refuses both, so the text must
 * survive a round trip through Date. Years 0001-9999 only (PostgreSQL has no year 0; timestamptz
 * holds every later 4-digit year).
 */
export function isTimestampText(text: string): boolean {
  const m = TIMESTAMP.exec(text);
  if (!m || Number(m[1]) < 1) return false;
  const millis = `${text.slice(0, 23)}Z`;
  const ms = Date.parse(millis);
  return !Number.isNaN(ms) && new Date(ms).toISOString() === millis;
}

function partValid(part: KeyPart, value: unknown): boolean {
  switch (part.kind) {
    case 'uuid':
      return typeof value === 'string' && UUID.test(value);
    case 'bigint':
      return typeof value === 'bigint' && value >= INT64_MIN && value <= INT64_MAX;
    case 'timestamp':
      return typeof value === 'string' && isTimestampText(value);
    case 'text':
      return typeof value === 'string' && value.length <= part.max && part.pattern.test(value);
  }
}

/** The codec of one list's page tokens; make one with pageCursor(). */
export class PageCursor<P extends readonly KeyPart[]> {
  constructor(
    readonly list: string,
    readonly parts: P,
  ) {
    if (!LIST_NAME.test(list)) throw new Error(`page cursor: bad list name ${JSON.stringify(list)}`);
    if (parts.length === 0) throw new Error(`page cursor ${list}: no key parts`);
  }

  /** The token of the page after the row whose sort key is `cursor`. Throws (a bug) on a value it would refuse. */
  encode(cursor: CursorOf<P>): string {
    const values = cursor as readonly unknown[];
    if (values.length !== this.parts.length)
      throw new Error(`page cursor ${this.list}: ${values.length} key parts, expected ${this.parts.length}`);
    const k = this.parts.map((part, i) => {
      const value = values[i];
      if (!partValid(part, value))
        throw new Error(
          `page cursor ${this.list}: key part ${i} (${part.kind}) is invalid: ${String(value)}`,
        );
      return part.kind === 'bigint' ? (value as bigint).toString() : (value as string);
    });
    return Buffer.from(JSON.stringify({ v: TOKEN_VERSION, l: this.list, k }), 'utf8').toString('base64url');
  }

  /**
   * The cursor in a token this codec issued. A malformed, forged or stale token (another list, an
   * older version, a part PostgreSQL would refuse) throws INVALID_ARGUMENT naming `field`.
   */
  decode(token: string, field: string = PAGE_TOKEN_FIELD): CursorOf<P> {
    const bad = () => DomainError.invalid(field, PAGE_TOKEN_RULE);
    if (typeof token !== 'string' || token.length > MAX_TOKEN_LENGTH || !BASE64URL.test(token)) throw bad();
    let parsed: unknown;
    try {
      parsed = JSON.parse(Buffer.from(token, 'base64url').toString('utf8'));
    } catch {
      throw bad();
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw bad();
    const { v, l, k } = parsed as Record<string, unknown>;
    if (v !== TOKEN_VERSION || l !== this.list) throw bad();
    if (!Array.isArray(k) || k.length !== this.parts.length) throw bad();
    const values: unknown[] = [];
    for (const [i, part] of this.parts.entries()) {
      const raw: unknown = k[i];
      if (typeof raw !== 'string') throw bad();
      const value = part.kind === 'bigint' ? (isInt64Text(raw) ? BigInt(raw) : undefined) : raw;
      if (!partValid(part, value)) throw bad();
      values.push(value);
    }
    const cursor = values as CursorOf<P>;
    // canonical form only: no extra keys, no other spelling of the same JSON or base64url
    if (this.encode(cursor) !== token) throw bad();
    return cursor;
  }
}

/** The page token codec of the list `list` (e.g. 'settlement.escrow-orders') sorted by `parts`. */
export function pageCursor<const P extends readonly KeyPart[]>(list: string, ...parts: P): PageCursor<P> {
  return new PageCursor(list, parts);
}
