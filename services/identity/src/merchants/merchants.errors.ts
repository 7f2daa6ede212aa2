import { DomainError } from '@citybase/platform';

// Error codes of the merchants feature (NOT_FOUND: ../shared/shared.errors.ts). Messages name the
// request field, never a stored id or name.

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
