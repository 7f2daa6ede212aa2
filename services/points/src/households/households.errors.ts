import { DomainError } from '@citybase/platform';

/** Error codes of households. */
export const HouseholdsErrors = {
  /** A user is in at most one household per programme. */
  memberOfAnother: (memberId: string, householdId: string) =>
    DomainError.precondition(
      'MEMBER_IN_OTHER_HOUSEHOLD',
      `user ${memberId} is already a member of household ${householdId}: remove them there first`,
    ),

  /** A household cannot be a member, and a member cannot be a household. */
  memberIsHousehold: (memberId: string) =>
    DomainError.precondition('MEMBER_IS_HOUSEHOLD', `${memberId} is a household, not a user`),

  householdIsMember: (householdId: string, of: string) =>
    DomainError.precondition(
      'HOUSEHOLD_IS_MEMBER',
      `${householdId} is a member of household ${of}, it cannot have members itself`,
    ),
};
