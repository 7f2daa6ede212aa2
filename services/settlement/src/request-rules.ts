import { DomainError, optionalString, TENANT_ID } from '@citybase/platform';

/** Rules of request fields that every settlement feature validates the same way. */

const OPTIONAL_ID = /^[A-Za-z0-9._:-]*$/;

/** An id that may be empty (a filter, a default): like TENANT_ID otherwise. */
export function optionalId(field: string, value: string | undefined): string {
  const v = optionalString(field, value, { max: TENANT_ID.max });
  if (!OPTIONAL_ID.test(v)) throw DomainError.invalid(field, TENANT_ID.patternRule);
  return v;
}
