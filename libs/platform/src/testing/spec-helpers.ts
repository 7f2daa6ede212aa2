import { DomainError } from '../errors';

/** The DomainError `fn` throws; fails the test when it throws nothing or another error. */
export function domainErrorOf(fn: () => unknown): DomainError {
  try {
    fn();
  } catch (err) {
    if (err instanceof DomainError) return err;
    throw err;
  }
  throw new Error('expected a DomainError, nothing was thrown');
}

/**
 * A small deterministic PRNG (mulberry32): numbers in [0, 1) from a 32-bit seed, so a failing
 * random case replays from its seed.
 */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Expects `fn` to refuse its input as INVALID_ARGUMENT naming `field` (in the detail and as the
 * message's prefix) and, when given, with a rule matching `rule`.
 */
export function expectInvalid(fn: () => unknown, field: string, rule?: RegExp): void {
  const err = domainErrorOf(fn);
  expect(err.kind).toBe('invalid_argument');
  expect(err.detail.field).toBe(field);
  expect(err.message.startsWith(`${field}: `)).toBe(true);
  if (rule) expect(err.detail.rule).toMatch(rule);
}
