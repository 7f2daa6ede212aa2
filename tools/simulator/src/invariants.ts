/** One invariant checked at the end of a day of life: held, or not with what was seen. */
export interface InvariantResult {
  name: string;
  ok: boolean;
  detail: string;
}

/** settlement's check-ledger report (services/settlement/dist/admin.js check-ledger). */
export interface LedgerReport {
  ok: boolean;
  violations: unknown[];
}

export interface BudgetFigures {
  /** e.g. "points budget of operator op-1 (2026-12)" */
  name: string;
  allotted: bigint;
  issued: bigint;
}

export interface CouponFigures {
  name: string;
  maxCoupons: bigint;
  /** What marketing says was claimed. */
  claimed: bigint;
  /** What the simulator was told it claimed. */
  claimedBySimulator: bigint;
  /** Claims that ended in an error that does not say whether the coupon was given (a timeout). */
  unsure: bigint;
}

/** A count the simulator kept of what the city acknowledged, next to what a service's API shows. */
export interface CountFigures {
  name: string;
  simulator: number;
  /** Operations whose outcome the simulator never learnt (a timeout): the service may count them or not. */
  unsure: number;
  service: number;
}

export interface InvariantInputs {
  /** undefined: the check could not run (an error says why). */
  ledger?: LedgerReport;
  ledgerError?: string;
  budgets: BudgetFigures[];
  coupons: CouponFigures[];
  counts: CountFigures[];
}

/**
 * The invariants of a day of life:
 *  - settlement's ledger invariants hold (balanced transactions, escrow, no negative balances...);
 *  - no points budget issued more than it was allotted;
 *  - no coupon campaign gave out more coupons than its limit, and each claim the simulator was
 *    acknowledged is one marketing counts (no claim lost, none twice);
 *  - events = database: each count of acknowledged operations equals what the service shows.
 */
export function evaluateInvariants(inputs: InvariantInputs): InvariantResult[] {
  const results: InvariantResult[] = [];
  if (inputs.ledger) {
    results.push({
      name: 'ledger: settlement check-ledger',
      ok: inputs.ledger.ok && inputs.ledger.violations.length === 0,
      detail:
        inputs.ledger.violations.length === 0
          ? 'no violation'
          : `${inputs.ledger.violations.length} violation(s): ${JSON.stringify(inputs.ledger.violations).slice(0, 400)}`,
    });
  } else {
    results.push({
      name: 'ledger: settlement check-ledger',
      ok: false,
      detail: `could not run: ${inputs.ledgerError ?? 'no report'}`,
    });
  }
  for (const b of inputs.budgets) {
    results.push({
      name: `points: ${b.name} issued <= allotted`,
      ok: b.issued <= b.allotted && b.issued >= 0n,
      detail: `issued ${b.issued} of ${b.allotted}`,
    });
  }
  for (const c of inputs.coupons) {
    results.push({
      name: `coupons: ${c.name} not oversold`,
      ok: c.maxCoupons === 0n || c.claimed <= c.maxCoupons,
      detail: `claimed ${c.claimed} of ${c.maxCoupons === 0n ? 'unlimited' : c.maxCoupons}`,
    });
    results.push({
      name: `coupons: ${c.name} claims acknowledged = claims counted`,
      ok: c.claimed >= c.claimedBySimulator && c.claimed <= c.claimedBySimulator + c.unsure,
      detail: `simulator ${c.claimedBySimulator} (+${c.unsure} unsure), marketing ${c.claimed}`,
    });
  }
  for (const c of inputs.counts) {
    results.push({
      name: `events = database: ${c.name}`,
      ok: c.service >= c.simulator && c.service <= c.simulator + c.unsure,
      detail: `simulator ${c.simulator} (+${c.unsure} unsure), service ${c.service}`,
    });
  }
  return results;
}

export const allHold = (results: readonly InvariantResult[]): boolean =>
  results.length > 0 && results.every((r) => r.ok);
