import { DomainError } from '@citybase/platform';

/** Error codes of quotes, reservations and QR tokens. */
export const RedemptionsErrors = {
  invalid: (field: string, rule: string) => DomainError.invalid(field, rule),

  /** Also what another holder's (or operator's) coupon answers: whose it is, is not told. */
  couponNotFound: (couponId: string) => DomainError.notFound('coupon', couponId, 'COUPON_NOT_FOUND'),

  redemptionNotFound: (redemptionId: string) =>
    DomainError.notFound('redemption', redemptionId, 'REDEMPTION_NOT_FOUND'),

  /** The coupon does not apply to the basket: the quote's reason is the code. */
  notApplicable: (couponId: string, reason: string) =>
    DomainError.precondition(reason, `coupon ${couponId} does not apply to this basket (${reason})`),

  redemptionExpired: (redemptionId: string) =>
    DomainError.precondition(
      'REDEMPTION_EXPIRED',
      `redemption ${redemptionId} expired before it was confirmed; its coupon was released`,
    ),

  /** `state` as stored (e.g. ROLLED_BACK): the code is REDEMPTION_<state>. */
  redemptionEnded: (redemptionId: string, state: string) =>
    DomainError.precondition(
      `REDEMPTION_${state.toUpperCase()}`,
      `redemption ${redemptionId} is already ${state.toLowerCase().replace('_', ' ')}`,
    ),

  /** Tokens are redeemed by RedeemToken; checkout's confirm and cancel are for CHECKOUT holds. */
  notACheckout: (redemptionId: string) =>
    DomainError.precondition(
      'REDEMPTION_IS_TOKEN',
      `redemption ${redemptionId} holds a QR token; it is redeemed by scanning the token`,
    ),

  tokenForged: (why: string) =>
    DomainError.invalid('token', `is not a token this service signed (${why})`, 'TOKEN_FORGED'),

  tokenExpired: () => DomainError.precondition('TOKEN_EXPIRED', 'the token had expired when it was scanned'),

  tokenWrongMerchant: (merchantId: string) =>
    DomainError.precondition(
      'TOKEN_WRONG_MERCHANT',
      `the token's coupon cannot be redeemed at merchant ${merchantId}`,
    ),

  tokenOfflineTooLong: (graceSeconds: number) =>
    DomainError.precondition(
      'TOKEN_OFFLINE_TOO_LONG',
      `the scan was submitted more than ${graceSeconds} s after it was made; the coupon's hold has ended`,
    ),

  /** Names the winning redemption, where and when it was redeemed (the offline conflict rule). */
  tokenAlreadyUsed: (w: { redemptionId: string; merchantId: string; at: Date | undefined }) =>
    DomainError.precondition(
      'TOKEN_ALREADY_USED',
      `the token was already redeemed: redemption ${w.redemptionId} at merchant ${w.merchantId || '-'}` +
        (w.at ? ` at ${w.at.toISOString()}` : ''),
    ),

  /** The token's hold ended otherwise (its coupon was released). */
  tokenVoid: (redemptionId: string, state: string) =>
    DomainError.precondition('TOKEN_VOID', `the token's redemption ${redemptionId} is ${state}`),
};
