import { DomainError } from '@citybase/platform';

/**
 * Error codes of the people feature. None of the messages carries a phone or ID number, not even
 * the caller's own: messages end up in logs and client error reports.
 */
export const PeopleErrors = {
  phoneTaken: () =>
    new DomainError(
      'already_exists',
      'RESIDENT_PHONE_TAKEN',
      'phone: a resident of this project already has this phone',
      {
        field: 'phone',
        rule: 'must be unique within the project',
      },
    ),

  notPropertyStaff: (field: string, where: string) =>
    new DomainError(
      'failed_precondition',
      'STAFF_NOT_PROPERTY_STAFF',
      `${field}: must be active property staff of ${where}`,
      {
        field,
        rule: `must be active property staff of ${where}`,
      },
    ),

  unitHasHousehold: () =>
    new DomainError('already_exists', 'UNIT_HAS_HOUSEHOLD', 'unit_id: the unit already has a household', {
      field: 'unit_id',
      rule: 'a unit has at most one household',
    }),

  headIneligible: (rule: string) =>
    new DomainError('failed_precondition', 'HOUSEHOLD_HEAD_INELIGIBLE', `head_resident_id: ${rule}`, {
      field: 'head_resident_id',
      rule,
    }),

  memberNotFound: () =>
    new DomainError(
      'not_found',
      'RESIDENT_NOT_FOUND',
      "phone: no resident of the household's project has this phone",
      {
        field: 'phone',
        rule: "must be the phone of a resident of the household's project",
      },
    ),

  memberInHousehold: () =>
    new DomainError(
      'failed_precondition',
      'RESIDENT_IN_HOUSEHOLD',
      'phone: the resident with this phone is already in a household',
      {
        field: 'phone',
        rule: 'must be the phone of a resident not yet in a household',
      },
    ),
};
