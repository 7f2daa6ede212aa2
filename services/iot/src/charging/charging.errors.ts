import { DomainError } from '@citybase/platform';

/** Error codes of EV charging. */
export const ChargingErrors = {
  /** Also what another tenant's charger answers. */
  chargerNotFound: (deviceId: string) => DomainError.notFound('charger', deviceId, 'CHARGER_NOT_FOUND'),
  sessionNotFound: (id: string) => DomainError.notFound('charging session', id, 'CHARGING_SESSION_NOT_FOUND'),
  notACharger: (deviceId: string) =>
    DomainError.invalid(
      'device_id',
      `device ${deviceId} must be an ev_charger of this project`,
      'CHARGER_DEVICE_INVALID',
    ),
  /** Payment refused the session's checkout for good (e.g. more points than held, an unknown code). */
  checkoutRefused: (reason: string) =>
    DomainError.precondition('CHARGING_CHECKOUT_REFUSED', `payment refused the checkout: ${reason}`),
};
