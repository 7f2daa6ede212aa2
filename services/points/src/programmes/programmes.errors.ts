import { DomainError } from '@citybase/platform';

/** Error codes of programmes. */
export const ProgrammesErrors = {
  /** GetProgramme of an operator without one. */
  notFound: (operatorId: string) =>
    DomainError.notFound('programme of operator', operatorId, 'PROGRAMME_NOT_FOUND'),

  /** Another room needs the operator's programme (accounts, issuance) and there is none. */
  notSet: (operatorId: string) =>
    DomainError.precondition(
      'PROGRAMME_NOT_SET',
      `operator ${operatorId} has no points programme: set it first`,
    ),
};
