import { createHash } from 'crypto';
import { DomainError } from '../errors';
import { fromTimestamp, type ProtoTimestamp } from '../messaging/timestamp';

/**
 * Input checks for gRPC requests. Each throws DomainError.invalid naming the field (proto field
 * path, snake_case) and the rule it broke, so the caller gets INVALID_ARGUMENT with a message it
 * can act on. They run before any write, so bad input never leaves anything half-written.
 */
/** Rules for `requiredString`: a length limit and a pattern, with the rule in words for the error. */
export interface StringRule {
  max?: number;
  pattern?: RegExp;
  patternRule?: string;
}

/**
 * Operator, project, merchant and resident ids as payment and settlement accept them: opaque
 * (identity's ids, or a scenario app's own).
 */
export const TENANT_ID = {
  max: 64,
  pattern: /^[A-Za-z0-9._:-]+$/,
  patternRule: 'must be 1-64 letters, digits, dots, dashes, colons or underscores',
} satisfies StringRule;

/** A payment channel's id in payment's catalog, as payment and settlement's statements name it. */
export const CHANNEL_ID = {
  max: 40,
  pattern: /^[a-z0-9-]+$/,
  patternRule: 'must be 1-40 lowercase letters, digits or dashes',
} satisfies StringRule;

/** An ISO 4217 currency code. */
export const CURRENCY = {
  max: 3,
  pattern: /^[A-Z]{3}$/,
  patternRule: 'must be a 3-letter ISO 4217 code',
} satisfies StringRule;

export function requiredString(field: string, value: string | undefined, opts: StringRule = {}): string {
  const v = (value ?? '').trim();
  if (v.length === 0) throw DomainError.invalid(field, 'is required');
  const max = opts.max ?? 256;
  if (v.length > max) throw DomainError.invalid(field, `must be at most ${max} characters`);
  if (opts.pattern && !opts.pattern.test(v))
    throw DomainError.invalid(field, opts.patternRule ?? `must match ${opts.pattern}`);
  return v;
}

export function optionalString(
  field: string,
  value: string | undefined,
  opts: { max?: number } = {},
): string {
  const v = (value ?? '').trim();
  const max = opts.max ?? 256;
  if (v.length > max) throw DomainError.invalid(field, `must be at most ${max} characters`);
  return v;
}

/** The city's time zone: UTC+8, no daylight saving (tax records, points budgets). */
export const CITY_UTC_OFFSET_HOURS = 8;

/** A month "YYYY-MM" in city time: the period of tax records and points budgets. */
export const MONTH_PERIOD = {
  max: 7,
  pattern: /^\d{4}-(0[1-9]|1[0-2])$/,
  patternRule: 'must be a month YYYY-MM',
} satisfies StringRule;

/** The month period (YYYY-MM, MONTH_PERIOD) of a moment, in the city's time zone UTC+8. */
export function cityPeriod(at: Date): string {
  return new Date(at.getTime() + CITY_UTC_OFFSET_HOURS * 3_600_000).toISOString().slice(0, 7);
}

const DAY = /^(\d{4})-(\d{2})-(\d{2})$/;

/**
 * Midnight UTC of a "YYYY-MM-DD" calendar day, or undefined when the text is not one (2026-02-30
 * is not). Callers apply their time zone and say the rule in their own words.
 */
export function calendarDayUtcMs(day: string): number | undefined {
  const m = DAY.exec(day);
  if (!m) return undefined;
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const ms = Date.UTC(y, mo - 1, d);
  const back = new Date(ms);
  if (back.getUTCFullYear() !== y || back.getUTCMonth() !== mo - 1 || back.getUTCDate() !== d)
    return undefined;
  return ms;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function requiredUuid(field: string, value: string | undefined): string {
  return requiredString(field, value, {
    max: 36,
    pattern: UUID,
    patternRule: 'must be a UUID',
  }).toLowerCase();
}

/** Idempotency key of a mutating request: 1-128 printable ASCII characters. */
export function requestId(value: string | undefined, field = 'request_id'): string {
  return requiredString(field, value, {
    max: 128,
    pattern: /^[\x21-\x7e]+$/,
    patternRule: 'must be printable ASCII without spaces',
  });
}

/** A proto enum value that must be one of the known, non-UNSPECIFIED values. */
export function requiredEnum<E extends Record<string, string | number>>(
  field: string,
  value: number | undefined,
  enumObject: E,
): E[keyof E] {
  const known = Object.values(enumObject).filter(
    (v): v is number => typeof v === 'number' && v !== 0 && v !== -1,
  );
  if (value === undefined || value === 0) throw DomainError.invalid(field, 'is required');
  if (!known.includes(value)) throw DomainError.invalid(field, `unknown value ${value}`);
  return value as E[keyof E];
}

export interface MoneyInput {
  currency: string;
  amountMinor: bigint;
}

/** Money given by a caller: ISO-4217-shaped currency, amount in minor units, positive unless allowed otherwise. */
export function requiredMoney(
  field: string,
  value: MoneyInput | undefined,
  opts: { allowZero?: boolean; currencies?: readonly string[] } = {},
): MoneyInput {
  if (!value) throw DomainError.invalid(field, 'is required');
  const currency = requiredString(`${field}.currency`, value.currency, CURRENCY);
  if (opts.currencies && !opts.currencies.includes(currency))
    throw DomainError.invalid(`${field}.currency`, `must be one of ${opts.currencies.join(', ')}`);
  if (typeof value.amountMinor !== 'bigint')
    throw DomainError.invalid(`${field}.amount_minor`, 'is required');
  if (value.amountMinor < 0n || (!opts.allowZero && value.amountMinor === 0n)) {
    throw DomainError.invalid(
      `${field}.amount_minor`,
      opts.allowZero ? 'must not be negative' : 'must be positive',
    );
  }
  return { currency, amountMinor: value.amountMinor };
}

/** A stable fingerprint of a normalized request, to tell a retry from a different request with the same key. */
export function requestFingerprint(value: unknown): string {
  const canonical = JSON.stringify(value, (_k, v: unknown) => {
    if (typeof v === 'bigint') return `${v}n`;
    if (v && typeof v === 'object' && !Array.isArray(v)) {
      return Object.fromEntries(
        Object.entries(v as Record<string, unknown>).sort(([a], [b]) => a.localeCompare(b)),
      );
    }
    return v;
  });
  return createHash('sha256').update(canonical).digest('hex');
}

/** A google.protobuf.Timestamp the caller must give, as a Date; INVALID_ARGUMENT naming the field otherwise. */
export function requiredTimestamp(field: string, value: ProtoTimestamp | undefined): Date {
  if (!value) throw DomainError.invalid(field, 'is required');
  const at = fromTimestamp(value);
  if (!Number.isFinite(at.getTime()) || value.nanos < 0 || value.nanos > 999_999_999)
    throw DomainError.invalid(field, 'is not a valid time');
  return at;
}
