import { DomainError, optionalString } from '@citybase/platform';

/** Rules of request fields that every settlement feature validates the same way. */

/** Operator, project, merchant and resident ids: what payment and identity accept too. */
export const ID = {
  max: 64,
  pattern: /^[A-Za-z0-9._:-]+$/,
  patternRule: 'must be 1-64 letters, digits, dots, dashes, colons or underscores',
};

export const CURRENCY = { max: 3, pattern: /^[A-Z]{3}$/, patternRule: 'must be a 3-letter ISO 4217 code' };

const OPTIONAL_ID = /^[A-Za-z0-9._:-]*$/;

/** An id that may be empty (a filter, a default): like ID otherwise. */
export function optionalId(field: string, value: string | undefined): string {
  const v = optionalString(field, value, { max: 64 });
  if (!OPTIONAL_ID.test(v)) throw DomainError.invalid(field, ID.patternRule);
  return v;
}
