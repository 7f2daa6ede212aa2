/**
 * Why a payment earned nothing (earnings.reason): recorded once on its row, logged as a warning
 * with `alert` for the ones an operator has to act on, never retried.
 */
export const NOT_EARNED = {
  /** The payment names no payer or no operator. */
  NO_HOLDER: 'NO_HOLDER',
  /** No rule of the operator or the payment's project covers the scenario. */
  NO_RULE: 'NO_RULE',
  /** The rule's points_per_yuan is 0, or the amount earns less than one point. */
  NOTHING_EARNED: 'NOTHING_EARNED',
  /** The holder reached the rule's daily cap. */
  DAILY_CAP_REACHED: 'DAILY_CAP_REACHED',
  /** The operator has no programme. */
  PROGRAMME_NOT_SET: 'PROGRAMME_NOT_SET',
  /** The budget node the rule charges has no node for the period. */
  BUDGET_NOT_SET: 'BUDGET_NOT_SET',
  /** The budget node has not enough left. */
  BUDGET_EXCEEDED: 'BUDGET_EXCEEDED',
} as const;

/** The reasons that raise an alert (the operator has to set something up). */
export const ALERTING = new Set<string>([
  NOT_EARNED.PROGRAMME_NOT_SET,
  NOT_EARNED.BUDGET_NOT_SET,
  NOT_EARNED.BUDGET_EXCEEDED,
  NOT_EARNED.NO_RULE,
]);
