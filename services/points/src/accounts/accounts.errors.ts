import { DomainError } from '@citybase/platform';

/** Error codes of accounts, lots and reservations. */
export const AccountsErrors = {
  /** Also what another operator's reservation answers: whose it is, is not told. */
  reservationNotFound: (reservationId: string) =>
    DomainError.notFound('reservation', reservationId, 'RESERVATION_NOT_FOUND'),

  insufficient: (available: bigint, asked: bigint) =>
    DomainError.precondition(
      'POINTS_INSUFFICIENT',
      `only ${available} points are available, ${asked} were asked for`,
    ),

  reservationExpired: (reservationId: string) =>
    DomainError.precondition(
      'RESERVATION_EXPIRED',
      `reservation ${reservationId} expired before it was confirmed; its points were released`,
    ),

  reservationEnded: (reservationId: string, state: string) =>
    DomainError.precondition(
      `RESERVATION_${state.toUpperCase()}`,
      `reservation ${reservationId} is already ${state}`,
    ),
};
