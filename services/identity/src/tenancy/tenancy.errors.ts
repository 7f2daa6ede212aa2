import { DomainError } from '@citybase/platform';

// Error codes of the tenancy feature. Messages name the request field, never a stored id or name:
// a foreign caller must not learn which resources exist or who owns them.

/** NOT_FOUND for a resource that does not exist or lies outside the caller's tenancy. */
export function notFound(what: 'operator' | 'project' | 'building' | 'merchant', field: string): DomainError {
  return new DomainError('not_found', `${what.toUpperCase()}_NOT_FOUND`, `${field}: no such ${what}`, {
    field,
    rule: `must identify an existing ${what} visible to this client`,
  });
}

/** ALREADY_EXISTS for a name that is taken within its parent. */
export function nameTaken(what: 'building' | 'unit', parent: 'project' | 'building'): DomainError {
  return new DomainError(
    'already_exists',
    `${what.toUpperCase()}_NAME_TAKEN`,
    `name: the ${parent} already has a ${what} with this name`,
    { field: 'name', rule: `must be unique within the ${parent}` },
  );
}

/** FAILED_PRECONDITION: the acting staff member may not register or change merchants of this project. */
export function staffNotEligible(
  field: string,
  reason: 'inactive' | 'not_property_staff_of_project',
): DomainError {
  const rule =
    reason === 'inactive'
      ? 'must be an active staff member'
      : 'must be an active property staff member of the project';
  return new DomainError('failed_precondition', 'STAFF_NOT_ELIGIBLE', `${field}: ${rule}`, { field, rule });
}

/** INVALID_ARGUMENT: the unit is not a unit of the merchant's project. */
export function unitNotInProject(): DomainError {
  return DomainError.invalid('unit_id', 'must be a unit of the project', 'UNIT_NOT_IN_PROJECT');
}
