import { DomainError } from '@citybase/platform';

/** Error codes of group buying. */
export const GroupDealsErrors = {
  /** Also what another operator's deal answers. */
  notFound: (dealId: string) => DomainError.notFound('group deal', dealId, 'GROUP_DEAL_NOT_FOUND'),

  ended: (dealId: string) =>
    DomainError.precondition('GROUP_DEAL_ENDED', `group deal ${dealId} is no longer open for joining`),

  full: (dealId: string) =>
    DomainError.precondition('GROUP_DEAL_FULL', `every seat of group deal ${dealId} is paid or held`),

  alreadyJoined: (dealId: string) =>
    DomainError.precondition(
      'GROUP_DEAL_ALREADY_JOINED',
      `the user already holds a seat of group deal ${dealId}`,
    ),
};
