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
