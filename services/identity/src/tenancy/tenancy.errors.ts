import { DomainError } from '@citybase/platform';

// Error codes of the tenancy feature (NOT_FOUND: ../shared/shared.errors.ts). Messages name the
// request field, never a stored id or name.

/** ALREADY_EXISTS for a name that is taken within its parent. */
export function nameTaken(what: 'building' | 'unit', parent: 'project' | 'building'): DomainError {
  return new DomainError(
    'already_exists',
    `${what.toUpperCase()}_NAME_TAKEN`,
    `name: the ${parent} already has a ${what} with this name`,
    { field: 'name', rule: `must be unique within the ${parent}` },
  );
}
